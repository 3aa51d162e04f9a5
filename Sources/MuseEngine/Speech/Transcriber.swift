// Speech to text with a Whisper model: 30-second windows of log-mel frames, greedy decoding with
// Whisper's timestamp rules, and the window moved on to the last whole segment (as faster-whisper
// and OpenAI's reference implementation do), so long audio is cut where the speech pauses.
import Foundation
import MuseCore

public enum TranscriberError: Error, Sendable, CustomStringConvertible {
    case model(CTranslate2Error)
    case badFile(path: String, reason: String)
    case unknownLanguage(String, known: [String])

    public var description: String {
        switch self {
        case .model(let error): error.description
        case let .badFile(path, reason): "Cannot read '\(path)': \(reason)."
        case let .unknownLanguage(code, known):
            "'\(code)' is not a language this model knows (known: \(known.prefix(20).joined(separator: ", ")), …)."
        }
    }
}

/// A Whisper model ready to transcribe: the network, its vocabulary and its decoding settings
/// (`config.json` of a CTranslate2 conversion).
public final class Transcriber: @unchecked Sendable {
    public let model: WhisperModel
    /// Token strings by id, as the byte-level alphabet writes them.
    let vocabulary: [String]
    let suppress: [Int]
    let suppressAtBegin: [Int]
    let languages: [(code: String, id: Int)]
    let endOfText: Int, startOfTranscript: Int, transcribe: Int, translate: Int
    let startOfPrevious: Int, noSpeech: Int, noTimestamps: Int, timestampBegin: Int
    let feature: LogMel
    /// Serialises transcriptions: the model's scratch state is one pool's.
    private let lock = NSLock()

    /// Loads `model.bin`, `vocabulary.txt` and `config.json` from a folder.
    public convenience init(folder: String, threads: Int) throws(TranscriberError) {
        let file: CTranslate2File
        do { file = try CTranslate2File(path: folder + "/model.bin") } catch { throw .model(error) }
        let vocabularyPath = folder + "/vocabulary.txt", configPath = folder + "/config.json"
        guard let text = try? String(contentsOfFile: vocabularyPath, encoding: .utf8) else {
            throw .badFile(path: vocabularyPath, reason: "missing or not UTF-8")
        }
        var vocabulary = text.components(separatedBy: "\n")
        if vocabulary.last == "" { vocabulary.removeLast() }
        let config: JSONValue
        do { config = try JSONValue.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: configPath)))) } catch {
            throw .badFile(path: configPath, reason: "\(error)")
        }
        try self.init(file: file, vocabulary: vocabulary, config: config, pool: WorkerPool(threads: threads))
    }

    public init(file: CTranslate2File, vocabulary: [String], config: JSONValue, pool: WorkerPool) throws(TranscriberError) {
        do { model = try WhisperModel(file: file, pool: pool) } catch { throw .model(error) }
        guard vocabulary.count == model.configuration.vocabularySize else {
            throw .badFile(path: "vocabulary.txt", reason: "\(vocabulary.count) tokens for a model of \(model.configuration.vocabularySize)")
        }
        self.vocabulary = vocabulary
        var ids: [String: Int] = [:]
        for (id, token) in vocabulary.enumerated() where token.hasPrefix("<|") { ids[token] = id }
        func id(_ token: String) throws(TranscriberError) -> Int {
            guard let id = ids[token] else { throw .badFile(path: "vocabulary.txt", reason: "no \(token) token") }
            return id
        }
        endOfText = try id("<|endoftext|>")
        startOfTranscript = try id("<|startoftranscript|>")
        transcribe = try id("<|transcribe|>")
        translate = try id("<|translate|>")
        startOfPrevious = try id("<|startofprev|>")
        if let id = ids["<|nospeech|>"] { noSpeech = id } else { noSpeech = try id("<|nocaptions|>") }
        noTimestamps = try id("<|notimestamps|>")
        timestampBegin = noTimestamps + 1
        let numbers = { (key: String) -> [Int] in
            guard case .array(let items)? = config[key] else { return [] }
            return items.compactMap { if case .number(let n) = $0 { n.integer } else { nil } }
        }
        suppress = numbers("suppress_ids").filter { $0 >= 0 && $0 < vocabulary.count }
        suppressAtBegin = numbers("suppress_ids_begin").filter { $0 >= 0 && $0 < vocabulary.count }
        var languageIDs = numbers("lang_ids")
        if languageIDs.isEmpty { languageIDs = Array((startOfTranscript + 1)..<translate) }
        languages = languageIDs.filter { $0 < vocabulary.count }.map { (String(vocabulary[$0].dropFirst(2).dropLast(2)), $0) }
        feature = LogMel(melCount: model.configuration.melCount)
    }

    /// Language codes the model knows, in its order.
    public var languageCodes: [String] { languages.map(\.code) }

    /// The text of token ids (special tokens and timestamps dropped).
    public func text(of tokens: [Int]) -> String {
        var bytes: [UInt8] = []
        for token in tokens where token < endOfText {
            bytes += BPETokenizer.byteLevelDecode(vocabulary[token])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Transcribes 16 kHz mono samples. `language` nil detects it from the first window;
    /// `translate` gives the text in English whatever was spoken (Whisper's translate task);
    /// `progress` gets the seconds done and the total after each window.
    public func transcribe(_ samples: [Float], language: String? = nil, translate: Bool = false,
                           progress: (Double, Double) -> Void = { _, _ in }) throws(TranscriberError) -> Transcript {
        lock.lock()
        defer { lock.unlock() }
        var languageID: Int?
        if let language {
            guard let known = languages.first(where: { $0.code == language.lowercased() }) else {
                throw .unknownLanguage(language, known: languageCodes)
            }
            languageID = known.id
        }
        let window = LogMel.windowFrames
        var timings = Transcript.Timings()
        var clock = ContinuousClock.now
        func lap() -> Double {
            let now = ContinuousClock.now, elapsed = now - clock
            clock = now
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        let (mel, frames) = feature.frames(of: samples, pool: model.pool)
        timings.featureSeconds = lap()
        let content = max(0, frames - 1)
        let secondsPerFrame = Double(LogMel.hop) / Double(LogMel.sampleRate)
        let duration = Double(samples.count) / Double(LogMel.sampleRate)
        var seek = 0
        var segments: [TranscriptSegment] = []
        var previous: [Int] = []
        while seek < content {
            let size = min(window, content - seek)
            // The window's frames, zero beyond the audio.
            var input = [Float](repeating: 0, count: feature.melCount * window)
            for m in 0..<feature.melCount {
                for t in 0..<size { input[m * window + t] = mel[m * frames + seek + t] }
            }
            _ = lap()
            let encoded = model.encode(input)
            timings.encodeSeconds += lap()
            timings.windows += 1
            let language = languageID ?? detectLanguage(encoded)
            languageID = language
            let offset = Double(seek) * secondsPerFrame
            let result = decodeWindow(encoded, language: language, task: translate ? self.translate : transcribe, previous: previous)
            timings.decodeSeconds += lap()
            timings.tokens += result.decoded
            if result.noSpeech > 0.6, result.averageLogProbability < -1 {
                seek += size
                progress(min(duration, Double(seek) * secondsPerFrame), duration)
                continue
            }
            let (pieces, next) = split(result.tokens, offset: offset, seek: seek, size: size)
            for piece in pieces {
                let text = text(of: piece.tokens)
                guard piece.start != piece.end, !text.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                segments.append(TranscriptSegment(start: piece.start, end: piece.end, text: text, tokens: piece.tokens))
                previous += piece.tokens
            }
            // The timestamp rules make a segment end after it starts, so `next` moves on; were it
            // not to, the window would be taken whole rather than decoded again.
            seek = next > seek ? next : seek + size
            progress(min(duration, Double(seek) * secondsPerFrame), duration)
        }
        let code = languages.first { $0.id == languageID }?.code ?? "en"
        return Transcript(language: code, duration: duration, segments: segments, timings: timings)
    }

    /// The most likely language token after <|startoftranscript|>.
    func detectLanguage(_ encoded: [Float]) -> Int {
        var state = model.beginDecoding(encoded)
        let logits = model.decode([startOfTranscript], state: &state)
        return languages.max { logits[$0.id] < logits[$1.id] }?.id ?? languages.first?.id ?? startOfTranscript + 1
    }

    struct WindowResult {
        var tokens: [Int]
        var noSpeech: Float
        var averageLogProbability: Float
        /// Tokens run through the decoder, the prompt's included.
        var decoded: Int
    }

    /// Greedy decoding of one window after the previous text (its last 223 tokens), with the
    /// suppressed tokens and the timestamp rules CTranslate2 applies.
    func decodeWindow(_ encoded: [Float], language: Int, task: Int, previous: [Int]) -> WindowResult {
        let context = model.configuration.textContext
        var prefix: [Int] = []
        if !previous.isEmpty { prefix = [startOfPrevious] + previous.suffix(context / 2 - 1) }
        var state = model.beginDecoding(encoded)
        // Through <|startoftranscript|> first: the no-speech probability is read there.
        let atStart = model.decode(prefix + [startOfTranscript], state: &state)
        let noSpeech = atStart[noSpeech] - Self.logSumExp(atStart)
        var logits = model.decode([language, task], state: &state)
        let steps = min(context / 2, context - state.length)
        var tokens: [Int] = []
        var sum: Float = 0
        for step in 0..<steps {
            applyRules(&logits, step: step, tokens: tokens)
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            sum += logits[best] - Self.logSumExp(logits)
            if best == endOfText { break }
            tokens.append(best)
            if state.length >= context { break }
            logits = model.decode([best], state: &state)
        }
        return WindowResult(tokens: tokens, noSpeech: exp(noSpeech), averageLogProbability: sum / Float(tokens.count + 1),
                            decoded: state.length)
    }

    /// Masks what may not come next: suppressed tokens; blank and end at the start; and Whisper's
    /// timestamp rules (a timestamp first, at most 1 s in; timestamps in pairs and never going
    /// back; a timestamp forced when all of them together are likelier than any text token).
    func applyRules(_ logits: inout [Float], step: Int, tokens: [Int]) {
        let vocabulary = logits.count
        func ban(_ range: Range<Int>) { for i in range where i < vocabulary { logits[i] = -.infinity } }
        for id in suppress { logits[id] = -.infinity }
        if step == 0 { for id in suppressAtBegin { logits[id] = -.infinity } }
        logits[noTimestamps] = -.infinity
        var checkTimestamps = false
        if step == 0 {
            ban(0..<timestampBegin)
            ban((timestampBegin + 51)..<vocabulary)
        } else if let last = tokens.last {
            if last >= timestampBegin {
                let penultimate = tokens.count >= 2 ? tokens[tokens.count - 2] : last
                if penultimate >= timestampBegin {
                    ban(timestampBegin..<vocabulary)
                } else {
                    ban(0..<endOfText)
                    ban(timestampBegin..<last)
                    checkTimestamps = true
                }
            } else {
                checkTimestamps = true
                if let lastTimestamp = tokens.last(where: { $0 >= timestampBegin }) {
                    ban(timestampBegin..<(lastTimestamp + 1))
                }
            }
        }
        guard checkTimestamps else { return }
        // Log-probabilities share the log-sum-exp of all logits, so the logits compare as they do.
        var textBest = -Float.infinity
        for i in 0..<timestampBegin { textBest = max(textBest, logits[i]) }
        if Self.logSumExp(logits[timestampBegin...]) > textBest { ban(0..<timestampBegin) }
    }

    /// Splits a window's tokens at pairs of timestamps into segments, and says where the next
    /// window starts: after the window if the text ended on a lone timestamp or had none, else at
    /// the last timestamp (the unfinished sentence is decoded again with the audio after it).
    func split(_ tokens: [Int], offset: Double, seek: Int, size: Int) -> (segments: [TranscriptSegment], next: Int) {
        let precision = 0.02
        let singleEnding = tokens.count >= 2 && tokens[tokens.count - 2] < timestampBegin && tokens[tokens.count - 1] >= timestampBegin
        let consecutive = tokens.indices.filter { $0 > 0 && tokens[$0] >= timestampBegin && tokens[$0 - 1] >= timestampBegin }
        var segments: [TranscriptSegment] = []
        if !consecutive.isEmpty {
            var slices = consecutive
            if singleEnding { slices.append(tokens.count) }
            var last = 0
            for cut in slices {
                let piece = Array(tokens[last..<cut])
                let start = offset + Double(piece[0] - timestampBegin) * precision
                let end = offset + Double(piece[piece.count - 1] - timestampBegin) * precision
                segments.append(TranscriptSegment(start: start, end: end, text: "", tokens: piece))
                last = cut
            }
            if singleEnding { return (segments, seek + size) }
            return (segments, seek + (tokens[last - 1] - timestampBegin) * 2)
        }
        var duration = Double(size) * Double(LogMel.hop) / Double(LogMel.sampleRate)
        if let lastTimestamp = tokens.last(where: { $0 >= timestampBegin }), lastTimestamp != timestampBegin {
            duration = Double(lastTimestamp - timestampBegin) * precision
        }
        segments.append(TranscriptSegment(start: offset, end: offset + duration, text: "", tokens: tokens))
        return (segments, seek + size)
    }

    static func logSumExp(_ x: some Collection<Float>) -> Float {
        let top = x.max() ?? -.infinity
        guard top.isFinite else { return top }
        var sum: Float = 0
        for v in x { sum += exp(v - top) }
        return top + log(sum)
    }
}
