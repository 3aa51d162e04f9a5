// The transcription route's own parts: the multipart reader on good, odd and broken bodies, and
// the response formats.
import Foundation
import MuseCore
import Testing
@testable import MuseServer

@Suite struct AudioRoutesTests {
    static func body(_ parts: [(name: String, filename: String?, data: [UInt8])], boundary: String = "XyZ") -> [UInt8] {
        var out: [UInt8] = Array("preamble\r\n".utf8)
        for part in parts {
            out += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\"".utf8)
            if let filename = part.filename { out += Array("; filename=\"\(filename)\"".utf8) }
            out += Array("\r\nContent-Type: application/octet-stream\r\n\r\n".utf8) + part.data + Array("\r\n".utf8)
        }
        return out + Array("--\(boundary)--\r\n".utf8)
    }

    @Test func readsFieldsAndFilesByteForByte() throws {
        // The file holds CR LF and dashes, as audio bytes may.
        let audio: [UInt8] = [0, 13, 10, 45, 45, 88, 255] + Array("--Xy".utf8)
        let form = try MultipartForm(Self.body([("model", nil, Array("whisper-1".utf8)), ("file", "memo.ogg", audio),
                                                ("language", nil, Array(" en \r\n".utf8))]), boundary: "XyZ")
        #expect(form.text("model") == "whisper-1")
        #expect(form.text("language") == "en")
        let file = try #require(form.parts.first { $0.name == "file" })
        #expect(file.filename == "memo.ogg")
        #expect(Array(file.data) == audio)
        #expect(MultipartForm.boundary(of: "multipart/form-data; boundary=\"a b\"") == "a b")
        #expect(MultipartForm.boundary(of: "multipart/form-data; charset=utf-8; boundary=q") == "q")
        #expect(MultipartForm.boundary(of: "application/json") == nil)
        #expect(MultipartForm.boundary(of: "multipart/form-data") == nil)
    }

    @Test func brokenBodiesAreErrorsNotCrashes() {
        let good = Self.body([("file", "a.wav", Array(repeating: 7, count: 50)), ("model", nil, Array("m".utf8))])
        #expect(throws: MultipartForm.ParseError.self) { try MultipartForm(Array("no boundary here".utf8), boundary: "XyZ") }
        for length in 0..<good.count {
            _ = try? MultipartForm(Array(good.prefix(length)), boundary: "XyZ")
        }
        var random = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            var bytes = good
            bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            _ = try? MultipartForm(bytes, boundary: "XyZ")
        }
    }

    @Test func responseFormats() throws {
        let transcript = Transcript(language: "en", duration: 4, segments: [
            TranscriptSegment(start: 0, end: 2.5, text: " Hello there."), TranscriptSegment(start: 2.5, end: 3661.25, text: " Bye."),
        ])
        #expect(AudioRoutes.subtitles(transcript, vtt: false) == "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n2\n00:00:02,500 --> 01:01:01,250\nBye.\n\n")
        #expect(AudioRoutes.subtitles(transcript, vtt: true).hasPrefix("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"))
        #expect(transcript.text == "Hello there. Bye.")
    }
}
