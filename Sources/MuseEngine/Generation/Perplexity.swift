// Perplexity, and KL divergence from a reference, of the model on a text, measured as llama.cpp's
// llama-perplexity measures them: the tokens cut into chunks of `chunkSize`, each chunk run from an
// empty cache and scored on its second half. The reference is llama.cpp's --kl-divergence-base file,
// which Muse reads and writes, so one base (say, the same weights in F32) serves both engines.
import Foundation
import MuseCore

/// llama.cpp's KL-divergence base file: "_logits_", then int32 chunk size, vocabulary size and
/// chunk count, the int32 tokens of every chunk, then for each scored position (the second half
/// of each chunk but its last token) a record of `recordLength` uint16: two floats (scale and the
/// smallest log-probability kept, which is at least the largest minus 16) and the vocabulary's
/// log-probabilities as multiples of that scale above the smallest. Records are read from the
/// mapped file: a base of a large vocabulary takes gigabytes.
public struct LogitsBase: Sendable {
    public let chunkSize: Int
    public let vocabularySize: Int
    public let tokens: [Int32]
    private let data: Data
    private let recordsOffset: Int

    public var chunkCount: Int { tokens.count / chunkSize }
    public var recordLength: Int { Self.recordLength(vocabularySize) }
    /// Positions scored in each chunk: from its middle to the one before its last.
    public var scoredPerChunk: Int { Self.scoredPerChunk(chunkSize) }

    static let magic = Array("_logits_".utf8)
    static func recordLength(_ vocabularySize: Int) -> Int { 2 * ((vocabularySize + 1) / 2) + 4 }
    static func scoredPerChunk(_ chunkSize: Int) -> Int { chunkSize - 1 - chunkSize / 2 }

    /// Reads and checks a base file; every size is validated before anything is read.
    public init(contentsOf url: URL) throws(PerplexityError) {
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else { throw .unreadable(url.path) }
        func int32(at offset: Int) throws(PerplexityError) -> Int {
            guard offset + 4 <= data.count else { throw .badBase("the file ends at byte \(data.count), inside its header") }
            return Int(data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int32.self) })
        }
        guard data.count >= 8, Array(data.prefix(8)) == Self.magic else { throw .badBase("it does not start with \"_logits_\"") }
        let chunkSize = try int32(at: 8), vocabularySize = try int32(at: 12), chunks = try int32(at: 16)
        guard (4...1 << 20).contains(chunkSize) else { throw .badBase("chunk size \(chunkSize) is out of range") }
        guard (1...1 << 22).contains(vocabularySize) else { throw .badBase("vocabulary size \(vocabularySize) is out of range") }
        guard (1...1 << 20).contains(chunks) else { throw .badBase("chunk count \(chunks) is out of range") }
        let tokenCount = chunkSize * chunks
        let tokensEnd = 20 + tokenCount * 4
        let recordBytes = chunks * Self.scoredPerChunk(chunkSize) * Self.recordLength(vocabularySize) * 2
        guard data.count == tokensEnd + recordBytes else {
            throw .badBase("it has \(data.count) bytes; \(chunks) chunks of \(chunkSize) tokens over a vocabulary of \(vocabularySize) make \(tokensEnd + recordBytes)")
        }
        let tokens = data.withUnsafeBytes { raw in
            (0..<tokenCount).map { raw.loadUnaligned(fromByteOffset: 20 + $0 * 4, as: Int32.self) }
        }
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < vocabularySize }) else { throw .badBase("a token id lies outside the vocabulary") }
        self.chunkSize = chunkSize
        self.vocabularySize = vocabularySize
        self.tokens = tokens
        self.data = data
        recordsOffset = tokensEnd
    }

    /// Calls `body` with record `index`: its scale, its smallest log-probability and its values.
    func withRecord<R>(_ index: Int, _ body: (Float, Float, UnsafeBufferPointer<UInt16>) -> R) -> R {
        data.withUnsafeBytes { raw in
            let start = recordsOffset + index * recordLength * 2
            let scale = raw.loadUnaligned(fromByteOffset: start, as: Float.self)
            let minLogProb = raw.loadUnaligned(fromByteOffset: start + 4, as: Float.self)
            let values = UnsafeBufferPointer(start: (raw.baseAddress! + start + 8).assumingMemoryBound(to: UInt16.self), count: vocabularySize)
            return body(scale, minLogProb, values)
        }
    }

    /// The largest logit and log(sum(exp(logit - largest))), summed in double.
    static func logSumExp(_ logits: UnsafeBufferPointer<Float>) -> (max: Float, logSumExp: Float) {
        let maxLogit = logits.max() ?? 0
        var sum = 0.0
        for logit in logits { sum += Double(expf(logit - maxLogit)) }
        return (maxLogit, Float(log(sum)))
    }
}

/// Writes a base file as the positions are scored, so that it never has to fit in memory.
final class LogitsBaseWriter {
    private let handle: FileHandle
    private let path: String
    private var record: [UInt16]

    init(path: String, chunkSize: Int, vocabularySize: Int, tokens: [Int32]) throws(PerplexityError) {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw .unwritable(path)
        }
        self.handle = handle
        self.path = path
        record = [UInt16](repeating: 0, count: LogitsBase.recordLength(vocabularySize))
        var header = Data(LogitsBase.magic)
        for value in [Int32(chunkSize), Int32(vocabularySize), Int32(tokens.count / chunkSize)] {
            withUnsafeBytes(of: value.littleEndian) { header.append(contentsOf: $0) }
        }
        tokens.withUnsafeBytes { header.append(contentsOf: $0) }
        try write(header)
    }

    deinit { try? handle.close() }

    private func write(_ data: Data) throws(PerplexityError) {
        do { try handle.write(contentsOf: data) } catch { throw .unwritable(path) }
    }

    /// Appends the record of one position's logits, encoded as llama.cpp encodes it.
    func append(logits: UnsafeBufferPointer<Float>, max maxLogit: Float, logSumExp: Float) throws(PerplexityError) {
        let minLogit = max(logits.min() ?? maxLogit, maxLogit - 16)
        let scale = (maxLogit - minLogit) / 65535
        let minLogProb = minLogit - maxLogit - logSumExp
        for i in record.indices { record[i] = 0 }
        record.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: scale, toByteOffset: 0, as: Float.self)
            raw.storeBytes(of: minLogProb, toByteOffset: 4, as: Float.self)
        }
        if scale > 0 {
            let inverse = 1 / scale
            for (i, logit) in logits.enumerated() where logit > minLogit {
                record[4 + i] = UInt16(clamping: Int((inverse * (logit - minLogit)).rounded(.toNearestOrEven)))
            }
        }
        try write(record.withUnsafeBytes { Data($0) })
    }
}

public enum PerplexityError: Error, Sendable, CustomStringConvertible {
    case unreadable(String)
    case unwritable(String)
    case badBase(String)
    case tooShort(tokens: Int, chunkSize: Int)
    case mismatch(String)
    case generation(GenerationError)

    public var description: String {
        switch self {
        case .unreadable(let path): "cannot read \(path)"
        case .unwritable(let path): "cannot write \(path)"
        case .badBase(let why): "not a llama.cpp KL-divergence base file: \(why)"
        case let .tooShort(tokens, chunkSize):
            "the text has \(tokens) tokens; at least \(2 * chunkSize) are needed for chunks of \(chunkSize)"
        case .mismatch(let why): "the base does not fit this model: \(why)"
        case .generation(let error): error.description
        }
    }
}

/// What a perplexity run measured. The KL figures are present when a base was compared against.
public struct PerplexityReport: Sendable, Codable {
    public var chunks: Int
    public var chunkSize: Int
    public var tokensScored: Int
    public var perplexity: Double
    public var perplexityError: Double
    public var seconds: Double
    public var kl: KLDivergence?

    public struct KLDivergence: Sendable, Codable {
        public var basePerplexity: Double
        public var mean: Double
        public var meanError: Double
        public var median: Double
        public var percentile99: Double
        public var maximum: Double
        /// Share of positions whose most likely token is the base's.
        public var sameTopRate: Double
        public var sameTopError: Double
    }
}

extension LocalModel {
    /// The tokens of `text` as llama-perplexity takes them: BOS first where the model adds one,
    /// special-token text read as plain text.
    public func perplexityTokens(_ text: String) -> [Int32] {
        var tokens = tokenize(text, parseSpecial: false)
        if tokenizer.addBOS, let bos = tokenizer.bosTokenID { tokens.insert(bos, at: 0) }
        return tokens
    }

    /// Perplexity on `tokens` in chunks of `chunkSize` (at most `maxChunks`), and, with `base`, the
    /// KL divergence from it (the base's own tokens and chunk size are then used). With `recordTo`,
    /// the logits are also written there as a base file.
    public func perplexity(tokens text: [Int32], chunkSize requested: Int = 512, maxChunks: Int? = nil,
                           base: LogitsBase? = nil, recordTo path: String? = nil,
                           progress: (Int, Int) -> Void = { _, _ in }) throws(PerplexityError) -> PerplexityReport {
        let tokens = base?.tokens ?? text
        let chunkSize = base?.chunkSize ?? requested
        let vocabulary = base?.vocabularySize ?? tokenizer.vocabularySize
        guard chunkSize <= contextLength else {
            throw .mismatch("chunks of \(chunkSize) tokens exceed the context window of \(contextLength)")
        }
        guard vocabulary <= model.vocabularySize, vocabulary == tokenizer.vocabularySize else {
            throw .mismatch("its vocabulary has \(vocabulary) tokens, the model's \(tokenizer.vocabularySize)")
        }
        guard tokens.count >= 2 * chunkSize else { throw .tooShort(tokens: tokens.count, chunkSize: chunkSize) }
        let chunks = min(tokens.count / chunkSize, maxChunks ?? .max)
        let recorder = try path.map { path throws(PerplexityError) in
            try LogitsBaseWriter(path: path, chunkSize: chunkSize, vocabularySize: vocabulary, tokens: Array(tokens.prefix(chunks * chunkSize)))
        }
        let first = chunkSize / 2
        let batch = model.maxBatchTokens
        let rows = UnsafeMutablePointer<Float>.allocate(capacity: batch * model.vocabularySize)
        defer { rows.deallocate() }

        var nll = 0.0, nll2 = 0.0, count = 0
        var klValues: [Double] = []
        var nllBase = 0.0, sameTop = 0
        let clock = ContinuousClock(), start = clock.now
        scheduler.stepLock.lock()
        defer { scheduler.stepLock.unlock() }
        for chunk in 0..<chunks {
            var chunkTokens = Array(tokens[(chunk * chunkSize)..<((chunk + 1) * chunkSize)])
            if tokenizer.addBOS, let bos = tokenizer.bosTokenID { chunkTokens[0] = bos }
            var sequence = KVSequence()
            defer { cache.free(&sequence) }
            var position = 0
            while position < chunkSize {
                let end = min(chunkSize, position + batch)
                var sequences = [sequence]
                let scored = end > first
                do {
                    try model.forward([ForwardItem(tokens: Array(chunkTokens[position..<end]), wantsLogits: scored, wantsAllLogits: scored)],
                                      sequences: &sequences, cache: cache, logits: rows)
                } catch {
                    throw .generation(GenerationError(error))
                }
                sequence = sequences[0]
                // Row r holds the logits after position `position + r`, which predict the next token.
                for p in max(first, position)..<min(end, chunkSize - 1) where scored {
                    let logits = UnsafeBufferPointer(start: rows + (p - position) * model.vocabularySize, count: vocabulary)
                    let next = Int(tokens[chunk * chunkSize + p + 1])
                    let (maxLogit, logSumExp) = LogitsBase.logSumExp(logits)
                    let v = Double(maxLogit + logSumExp - logits[next])
                    nll += v
                    nll2 += v * v
                    if let base {
                        let index = chunk * base.scoredPerChunk + (p - first)
                        let (kl, top) = Self.klDivergence(logits: logits, logNormalizer: maxLogit + logSumExp, base: base, record: index)
                        klValues.append(kl)
                        if top { sameTop += 1 }
                        nllBase -= Double(base.withRecord(index) { scale, minLogProb, values in scale * Float(values[next]) + minLogProb })
                    }
                    try recorder?.append(logits: logits, max: maxLogit, logSumExp: logSumExp)
                    count += 1
                }
                position = end
            }
            progress(chunk + 1, chunks)
        }
        let mean = nll / Double(count)
        let spread = max(nll2 / Double(count) - mean * mean, 0)
        let perplexity = exp(mean)
        var report = PerplexityReport(chunks: chunks, chunkSize: chunkSize, tokensScored: count, perplexity: perplexity,
                                      perplexityError: perplexity * (spread / Double(max(count - 1, 1))).squareRoot(),
                                      seconds: (clock.now - start).seconds)
        if base != nil, !klValues.isEmpty {
            let n = Double(klValues.count)
            let klMean = klValues.reduce(0, +) / n
            let klSpread = max(klValues.reduce(0) { $0 + $1 * $1 } / n - klMean * klMean, 0)
            let sorted = klValues.sorted()
            func percentile(_ q: Double) -> Double {
                let x = q * Double(sorted.count - 1), i = Int(x)
                return i + 1 < sorted.count ? sorted[i] + (sorted[i + 1] - sorted[i]) * (x - Double(i)) : sorted[i]
            }
            let rate = Double(sameTop) / n
            report.kl = .init(basePerplexity: exp(nllBase / n), mean: klMean, meanError: (klSpread / max(n - 1, 1)).squareRoot(),
                              median: percentile(0.5), percentile99: percentile(0.99), maximum: sorted.last ?? 0,
                              sameTopRate: rate, sameTopError: (rate * (1 - rate) / max(n - 1, 1)).squareRoot())
        }
        return report
    }

    /// KL(base ‖ model) at one position, summed over the tokens the base gives a log-probability
    /// above -16 (as llama.cpp does), and whether both put the same token first.
    static func klDivergence(logits: UnsafeBufferPointer<Float>, logNormalizer: Float, base: LogitsBase, record index: Int) -> (Double, Bool) {
        base.withRecord(index) { scale, minLogProb, values in
            var sum = 0.0
            var baseBest = 0, baseBestValue = -Float.infinity
            var best = 0, bestValue = -Float.infinity
            for i in 0..<logits.count {
                let logBase = scale * Float(values[i]) + minLogProb
                if logBase > baseBestValue { baseBestValue = logBase; baseBest = i }
                if logits[i] > bestValue { bestValue = logits[i]; best = i }
                if logBase > -16 {
                    sum += Double(expf(logBase)) * Double(logBase - logits[i] + logNormalizer)
                }
            }
            return (sum, best == baseBest)
        }
    }
}
