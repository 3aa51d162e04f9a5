// `POST /v1/audio/transcriptions` and `/v1/audio/translations`: OpenAI's speech-to-text
// endpoints, a multipart form with the audio file, answered as `json` ({"text"}), `text`,
// `verbose_json` (language, duration and segments), `srt` or `vtt`. A translation is the speech
// in English, whatever language was spoken.
import Foundation
import Hummingbird
import MuseCore
import MuseOpenAI

struct AudioRoutes: Sendable {
    let routes: Routes
    let speech: (any SpeechRecognizer)?
    /// OpenAI's own limit on uploads.
    static let maxUploadBytes = 25 << 20
    static let formats = ["json", "text", "verbose_json", "srt", "vtt"]

    func add(to api: RouterGroup<BasicRequestContext>) {
        api.post("audio/transcriptions") { request, _ in try await transcribe(request, translate: false) }
        api.post("audio/translations") { request, _ in try await transcribe(request, translate: true) }
    }

    func transcribe(_ request: Request, translate: Bool) async throws -> Response {
        guard let speech else {
            throw APIError.unavailable("this server has no speech model; start it with --speech-model, or run `muse models fetch whisper-base` first")
        }
        guard let contentType = request.headers[.contentType], let boundary = MultipartForm.boundary(of: contentType) else {
            throw APIError.invalidRequest("send the audio as multipart/form-data with a file field")
        }
        let body = try await routes.readBody(request, limit: Self.maxUploadBytes)
        let form: MultipartForm
        do { form = try MultipartForm(body, boundary: boundary) } catch {
            throw APIError.invalidRequest("the multipart body cannot be read: \(error)")
        }
        guard let file = form.parts.first(where: { $0.name == "file" }), !file.data.isEmpty else {
            throw APIError.invalidRequest("the form has no file", param: "file")
        }
        guard let model = form.text("model"), !model.isEmpty else {
            throw APIError.invalidRequest("you must provide a model parameter", param: "model")
        }
        let format = form.text("response_format") ?? "json"
        guard Self.formats.contains(format) else {
            throw APIError.invalidRequest("response_format must be one of \(Self.formats.joined(separator: ", "))", param: "response_format")
        }
        var language = form.text("language").flatMap { $0.isEmpty ? nil : $0.lowercased() }
        if let code = language, !speech.languages.contains(code) {
            // ISO 639-1 codes are what the model knows; a longer tag (en-US) is cut to them.
            let base = String(code.prefix { $0 != "-" && $0 != "_" })
            guard speech.languages.contains(base) else {
                throw APIError.invalidRequest("language \(code) is not one this model knows", param: "language")
            }
            language = base
        }
        // A transcription counts against --max-requests like a generation.
        let ticket = try routes.admission.enter()
        let transcript: Transcript
        do {
            transcript = try await speech.transcribe(audio: Data(file.data), fileName: file.filename ?? "audio", language: language,
                                                     translate: translate)
        } catch {
            throw APIError.invalidRequest("the audio could not be transcribed: \(error)", param: "file")
        }
        withExtendedLifetime(ticket) {}
        return try Self.response(transcript, format: format, task: translate ? "translate" : "transcribe")
    }

    static func response(_ transcript: Transcript, format: String, task: String) throws -> Response {
        switch format {
        case "text": return text(transcript.text + "\n")
        case "srt", "vtt": return text(subtitles(transcript, vtt: format == "vtt"))
        case "verbose_json":
            let segments: [JSONValue] = transcript.segments.enumerated().map { index, segment in
                ["id": .number(JSONNumber(index)), "start": .number(JSONNumber(segment.start)), "end": .number(JSONNumber(segment.end)),
                 "text": .string(segment.text), "tokens": .array(segment.tokens.map { .number(JSONNumber($0)) })]
            }
            return try .json(["task": .string(task), "language": .string(transcript.language),
                              "duration": .number(JSONNumber(transcript.duration)), "text": .string(transcript.text),
                              "segments": .array(segments)] as JSONValue)
        default: return try .json(["text": .string(transcript.text)] as JSONValue)
        }
    }

    static func text(_ body: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// SubRip or WebVTT cues, one per segment.
    static func subtitles(_ transcript: Transcript, vtt: Bool) -> String {
        func time(_ seconds: Double) -> String {
            let ms = Int((seconds * 1000).rounded())
            return String(format: "%02d:%02d:%02d%@%03d", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, vtt ? "." : ",", ms % 1000)
        }
        var out = vtt ? "WEBVTT\n\n" : ""
        for (index, segment) in transcript.segments.enumerated() {
            if !vtt { out += "\(index + 1)\n" }
            out += "\(time(segment.start)) --> \(time(segment.end))\n\(segment.text.trimmingCharacters(in: .whitespaces))\n\n"
        }
        return out
    }
}

/// A multipart/form-data body: its parts' names, file names and bytes.
struct MultipartForm {
    struct Part {
        var name: String
        var filename: String?
        var data: ArraySlice<UInt8>
    }

    enum ParseError: Error, CustomStringConvertible {
        case noBoundary
        case badPart(at: Int)

        var description: String {
            switch self {
            case .noBoundary: "the boundary does not occur in the body"
            case .badPart(let at): "the part at byte \(at) has no blank line after its headers"
            }
        }
    }

    var parts: [Part] = []

    /// The boundary parameter of a multipart/form-data content type.
    static func boundary(of contentType: String) -> String? {
        guard contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return value.isEmpty || value.count > 200 ? nil : value
            }
        }
        return nil
    }

    init(_ body: [UInt8], boundary: String) throws(ParseError) {
        let delimiter = Array("--\(boundary)".utf8)
        var cursor = 0
        guard let first = Self.find(delimiter, in: body, from: 0) else { throw .noBoundary }
        cursor = first + delimiter.count
        while cursor + 2 <= body.count {
            // "--" after a delimiter closes the body.
            if body[cursor] == UInt8(ascii: "-"), body[cursor + 1] == UInt8(ascii: "-") { break }
            guard let headersEnd = Self.find(Array("\r\n\r\n".utf8), in: body, from: cursor) else { throw .badPart(at: cursor) }
            let headers = String(decoding: body[cursor..<headersEnd], as: UTF8.self)
            let start = headersEnd + 4
            guard let next = Self.find(Array("\r\n".utf8) + delimiter, in: body, from: start) else { throw .badPart(at: cursor) }
            if let part = Self.part(headers: headers, data: body[start..<next]) { parts.append(part) }
            cursor = next + 2 + delimiter.count
        }
    }

    func text(_ name: String) -> String? {
        parts.first { $0.name == name }.map { String(decoding: $0.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    private static func part(headers: String, data: ArraySlice<UInt8>) -> Part? {
        for line in headers.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("content-disposition:") {
            var name: String?, filename: String?
            for item in line.split(separator: ";").dropFirst() {
                let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pair.count == 2 else { continue }
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                switch pair[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            return name.map { Part(name: $0, filename: filename, data: data) }
        }
        return nil
    }

    /// The first index of `needle` in `haystack` at or after `from`.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
