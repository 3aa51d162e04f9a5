// Where tests find the real model, the llama.cpp fixtures and the built `muse` binary.
import Foundation
import MuseCore
import Synchronization
import Testing
@testable import MuseEngine

enum TestEnvironment {
    static let environment = ProcessInfo.processInfo.environment

    static var fixturesDirectory: URL {
        if let dir = environment["MUSE_FIXTURES_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        // The repository's sibling `shared/` folder.
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    /// A known model's file: the path in `variable` if set, else the store's copy, if present.
    static func modelPath(_ model: KnownModel, variable: String) -> String? {
        let candidates = [environment[variable], ModelStore().path(for: model).path].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    static var smolLM2Path: String? { modelPath(.smolLM2, variable: "MUSE_TEST_MODEL") }
    static var qwenPath: String? { modelPath(.qwen25Coder05B, variable: "MUSE_TEST_QWEN") }
    static var gemmaPath: String? { modelPath(.gemma3_270M, variable: "MUSE_TEST_GEMMA") }
    /// The Whisper model's folder.
    static var whisperPath: String? { modelPath(.whisperBase, variable: "MUSE_TEST_WHISPER") }

    static var smolLM2Fixture: URL { fixturesDirectory.appendingPathComponent("smollm2-135m-instruct-q4_1.llamacpp.json") }

    static var qwenFixture: URL { fixturesDirectory.appendingPathComponent("qwen2.5-coder-0.5b-instruct-q4_k_m.llamacpp.json") }

    static var gemmaFixture: URL { fixturesDirectory.appendingPathComponent("gemma3-270m-q4_k_m.llamacpp.json") }

    static var hasSmolLM2: Bool {
        smolLM2Path != nil && FileManager.default.fileExists(atPath: smolLM2Fixture.path)
    }

    static var hasQwen: Bool {
        qwenPath != nil && FileManager.default.fileExists(atPath: qwenFixture.path)
    }

    static var hasGemma: Bool {
        gemmaPath != nil && FileManager.default.fileExists(atPath: gemmaFixture.path)
    }

    /// The `muse` executable built beside the test bundle.
    static var museBinary: String? {
        if let bin = environment["MUSE_BIN"], FileManager.default.isExecutableFile(atPath: bin) { return bin }
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("muse").path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : nil
    }

    /// The real SmolLM2 model, loaded once for every test that needs it.
    static let smolLM2: LocalModel? = smolLM2Path.flatMap { try? LocalModel(path: $0, threads: 2) }

    /// SmolLM2 on the ggml-order reference kernels, which give llama.cpp's bits (the default
    /// kernels are judged by KL divergence instead: see DESIGN.md), loaded once.
    static let smolLM2Reference: LocalModel? = smolLM2Path.flatMap { try? LocalModel(path: $0, threads: 2, kernelOrder: .ggml) }

    /// The default model, Qwen2.5-Coder-0.5B-Instruct, loaded once.
    static let qwen: LocalModel? = qwenPath.flatMap { try? LocalModel(path: $0, threads: 2) }

    /// Gemma 3 270M (base), loaded once.
    static let gemma: LocalModel? = gemmaPath.flatMap { try? LocalModel(path: $0, threads: 2) }
}

/// Everything one generation stream produced.
struct Collected {
    var tokens: [GeneratedToken] = []
    var text = ""
    var reasoning = ""
    var finish: FinishReason?
    var usage: Usage?

    static func run(_ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> Collected {
        var result = Collected()
        for try await event in stream {
            switch event {
            case .token(let token): result.tokens.append(token)
            case .text(let text): result.text += text
            case .reasoning(let text): result.reasoning += text
            case .toolCalls: break
            case let .finished(reason, usage, _):
                result.finish = reason
                result.usage = usage
            }
        }
        return result
    }
}

/// llama.cpp's reference outputs (see the fixture file's `_about`).
struct LlamaCppFixture: Decodable {
    struct TokenizeCase: Decodable { let text: String; let tokens: [Int32] }
    struct Logprob: Decodable { let id: Int32; let logprob: Float }
    struct CompleteCase: Decodable {
        let prompt: String
        let prompt_tokens: [Int32]
        let tokens: [Int32]
        let text: String
        let top_logprobs_first8: [[Logprob]]
    }
    struct Message: Decodable { let role: String; let content: String }
    struct ChatCase: Decodable { let messages: [Message]; let templated: String; let text: String }

    let tokenize: [TokenizeCase]
    let complete: [CompleteCase]
    let chat: [ChatCase]

    static func load(_ url: URL) throws -> LlamaCppFixture {
        try JSONDecoder().decode(LlamaCppFixture.self, from: Data(contentsOf: url))
    }
}


extension LlamaCppFixture {
    /// Runs every greedy continuation of the fixture and checks that ours follows llama.cpp's
    /// until the two best tokens are within `spread` (the engines' rounding spread) in ours, and in
    /// llama.cpp's where the fixture has its log-probabilities. Returns a line per prompt: tokens
    /// in agreement.
    func checkGreedyContinuations(_ model: LocalModel, spread: Float) async throws -> [String] {
        var report: [String] = []
        for c in complete {
            let tokens = try await Collected.run(model.generate(GenerationRequest(
                prompt: .tokens(c.prompt_tokens), sampling: .greedy, maxTokens: c.tokens.count, topLogprobs: 5))).tokens
            let ids = tokens.map(\.id)
            let agree = zip(ids, c.tokens).prefix { $0 == $1 }.count
            report.append("\(agree)/\(c.tokens.count) \(c.prompt.debugDescription)")
            guard agree < min(ids.count, c.tokens.count) else { continue }
            let ours = tokens[agree].topLogprobs.map(\.logprob)
            #expect(ours.count >= 2 && ours[0] - ours[1] <= spread,
                    "\(c.prompt.debugDescription): diverged at token \(agree) where our top two differ by \(ours.count >= 2 ? ours[0] - ours[1] : .infinity): \(ids) vs \(c.tokens)")
            if agree < c.top_logprobs_first8.count {
                let theirs = c.top_logprobs_first8[agree].map(\.logprob)
                #expect(theirs[0] - theirs[1] <= spread, "llama.cpp's top two at token \(agree) differ by \(theirs[0] - theirs[1])")
            }
        }
        return report
    }
}

/// Runs long synchronous work on a thread of its own, so that it does not hold one of the few
/// threads of Swift's cooperative pool (on 2 cores, two such tests stall every async test).
func offThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: work()) }.start()
    }
}

/// The kernel path is chosen for the whole process, and the kernel tests switch it. A test that
/// compares a model's bits across forward calls holds the gate shared, so that no path changes
/// under it (the float kernels' summation differs between paths); switching holds it alone.
/// A shared holder runs on a thread of its own (`offThePool`) and may block it while it waits; a
/// switcher waits asynchronously.
final class KernelPathGate: Sendable {
    static let shared = KernelPathGate()
    private let state = Mutex((readers: 0, switching: false))

    func enterShared() {
        while !state.withLock({ s in
            guard !s.switching else { return false }
            s.readers += 1
            return true
        }) { usleep(500) }
    }

    func leaveShared() { state.withLock { $0.readers -= 1 } }

    /// Runs `body` on `path`, then goes back to the fastest path.
    func switching<T>(to path: KernelPath, _ body: () throws -> T) async rethrows -> T {
        try await exclusively {
            #expect(KernelPath.select(path))
            return try body()
        }
    }

    /// Runs `body`, which may select paths, alone; then goes back to the fastest path. Waits
    /// without holding a thread of the task pool, which the tests' other async work needs.
    func exclusively<T>(_ body: () throws -> T) async rethrows -> T {
        while !state.withLock({ s in
            guard !s.switching, s.readers == 0 else { return false }
            s.switching = true
            return true
        }) { try? await Task.sleep(for: .milliseconds(2)) }
        defer {
            KernelPath.select(KernelPath.supported.last ?? .scalar)
            state.withLock { $0.switching = false }
        }
        return try body()
    }
}

/// Batch invariance at the model level: each of `sequences` sequences gets the same next-token
/// logits, bit for bit, whether it is decoded alone or with the others, for every count from 1 to
/// `sequences`. The batches together mix decode steps (even sequences, whose prompts ran first)
/// with whole prompts (odd sequences) in one forward call; then forks of one prompt decode alone
/// and together. Returns what differed (nothing, when all agree). Synchronous: long on a real model, so run it off the pool there.
func sequencesAloneAndTogether(_ local: LocalModel, sequences maxN: Int = 8) throws -> [String] {
    KernelPathGate.shared.enterShared()
    defer { KernelPathGate.shared.leaveShared() }
    let vocab = local.model.vocabularySize
    func prompt(_ s: Int) -> [Int32] { (0..<(2 + s)).map { Int32((s * 37 + $0 * 11 + 5) % vocab) } }
    func next(_ s: Int) -> Int32 { Int32((s * 13 + 7) % vocab) }
    let rows = UnsafeMutablePointer<Float>.allocate(capacity: maxN * vocab)
    defer { rows.deallocate() }
    local.scheduler.stepLock.lock()
    defer { local.scheduler.stepLock.unlock() }

    var differences: [String] = []
    var alone: [[Float]] = []
    for s in 0..<maxN {
        var sequence = KVSequence()
        defer { local.cache.free(&sequence) }
        try local.model.forward(prompt(s), sequence: &sequence, cache: local.cache, logits: rows)
        try local.model.forward([next(s)], sequence: &sequence, cache: local.cache, logits: rows)
        alone.append(Array(UnsafeBufferPointer(start: rows, count: vocab)))
    }
    for n in 1...maxN {
        var even = stride(from: 0, to: n, by: 2).map { _ in KVSequence() }
        try local.model.forward(stride(from: 0, to: n, by: 2).map { ForwardItem(tokens: prompt($0), wantsLogits: false) },
                                sequences: &even, cache: local.cache, logits: rows)
        var all = (0..<n).map { $0 % 2 == 0 ? even[$0 / 2] : KVSequence() }
        defer { for i in all.indices { local.cache.free(&all[i]) } }
        let items = (0..<n).map { s in ForwardItem(tokens: s % 2 == 0 ? [next(s)] : prompt(s) + [next(s)], wantsLogits: true) }
        try local.model.forward(items, sequences: &all, cache: local.cache, logits: rows)
        for s in 0..<n {
            let together = UnsafeBufferPointer(start: rows + s * vocab, count: vocab)
            if !together.elementsEqual(alone[s], by: { $0.bitPattern == $1.bitPattern }) {
                differences.append("sequence \(s) of \(n): \(zip(together, alone[s]).filter { $0 != $1 }.count) logits differ")
            }
        }
    }
    differences += try forksAloneAndTogether(local, forks: max(maxN / 2, 2), rows: rows, next: next)
    return differences
}

/// Forks of one prompt of several cache blocks, which they share (the one-query attention reads
/// shared blocks once for all of them): two decode steps of each fork give the same logits alone
/// and together, with an unrelated sequence's prompt in the same forward calls.
private func forksAloneAndTogether(_ local: LocalModel, forks: Int, rows: UnsafeMutablePointer<Float>,
                                   next: (Int) -> Int32) throws -> [String] {
    let vocab = local.model.vocabularySize
    let shared = (0..<(2 * local.cache.blockSize + 7)).map { Int32(($0 * 29 + 3) % vocab) }
    var parent = KVSequence()
    defer { local.cache.free(&parent) }
    try local.model.forward(shared, sequence: &parent, cache: local.cache, logits: rows)
    var alone: [[Float]] = []
    for f in 0..<forks {
        var fork = local.cache.fork(parent)
        defer { local.cache.free(&fork) }
        try local.model.forward([next(f)], sequence: &fork, cache: local.cache, logits: rows)
        try local.model.forward([next(f + 1)], sequence: &fork, cache: local.cache, logits: rows)
        alone.append(Array(UnsafeBufferPointer(start: rows, count: vocab)))
    }
    var all = (0..<forks).map { _ in local.cache.fork(parent) } + [KVSequence()]
    defer { for i in all.indices { local.cache.free(&all[i]) } }
    let other: [Int32] = [5, 9, 11]
    try local.model.forward((0..<forks).map { ForwardItem(tokens: [next($0)], wantsLogits: false) } + [ForwardItem(tokens: other, wantsLogits: false)],
                            sequences: &all, cache: local.cache, logits: rows)
    try local.model.forward((0..<forks).map { ForwardItem(tokens: [next($0 + 1)], wantsLogits: true) } + [ForwardItem(tokens: [7], wantsLogits: true)],
                            sequences: &all, cache: local.cache, logits: rows)
    var differences: [String] = []
    for f in 0..<forks where !UnsafeBufferPointer(start: rows + f * vocab, count: vocab).elementsEqual(alone[f], by: { $0.bitPattern == $1.bitPattern }) {
        differences.append("fork \(f) of \(forks) differs")
    }
    return differences
}
