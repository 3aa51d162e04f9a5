// `muse bench`: prompt-processing and generation speed in the manner of llama-bench, optionally
// with llama-bench itself run on the same file in the same invocation for a ratio.
import ArgumentParser
import Foundation
import MuseCore
import MuseEngine

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prompt processing (-p) and generation (-n) speed in tokens per second.")

    @Option(name: .customShort("p"), help: "Prompt tokens processed in one batch, 0 skips the test (default 512; 64 with --parallel and --requests).")
    var promptOption: Int?

    var promptTokens: Int { promptOption ?? 512 }

    @Option(name: .customShort("n"), help: "Tokens generated one at a time (0 skips the test).")
    var generatedTokens = 128

    @Option(name: [.customShort("r"), .long], help: "Repetitions of each test.")
    var repetitions = 5

    @Option(help: "A llama-bench binary to run on the same model and settings, for the ratio.")
    var compare: String?

    @Option(help: "Instead: N sequences forked from one shared prompt decoding -n tokens together, against one sequence.")
    var parallel: Int?

    @Option(help: "Instead: N concurrent requests with different prompts through the scheduler (sampling included).")
    var requests: Int?

    @Option(help: ArgumentHelp("Instead: generation under an output format ('json', 'schema' for a built-in list-of-records schema, or a JSON Schema file) against free generation.", valueName: "format"))
    var constrained: String?

    @Flag(help: "Print one JSON object with every figure.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func validate() throws {
        guard promptTokens >= 0, generatedTokens >= 0, promptTokens + generatedTokens > 0 else {
            throw ValidationError("-p and -n must be 0 or more, and not both 0")
        }
        guard (1...100).contains(repetitions) else { throw ValidationError("--repetitions must be between 1 and 100") }
        if let parallel, !(1...64).contains(parallel) { throw ValidationError("--parallel must be between 1 and 64") }
        if let requests, !(1...256).contains(requests) { throw ValidationError("--requests must be between 1 and 256") }
    }

    func run() async throws {
        if let parallel { return try runParallel(parallel) }
        if let requests { return try await runRequests(requests) }
        if let constrained { return try await runConstrained(constrained) }
        let model = try modelOptions.load()
        let path = model.path
        var tests: [TestResult] = []
        for (name, count, batch) in [("pp\(promptTokens)", promptTokens, promptTokens), ("tg\(generatedTokens)", generatedTokens, 1)]
        where count > 0 {
            if !json { Terminal.status("running \(name)…") }
            _ = try model.timeForward(tokens: min(count, 16), batch: batch)   // warm-up
            var speeds: [Double] = []
            for rep in 0..<repetitions {
                let seconds = try model.timeForward(tokens: count, batch: batch, seed: UInt64(rep + 1))
                speeds.append(Double(count) / seconds)
            }
            tests.append(TestResult(name: name, tokens: count, samples: speeds))
        }
        var reference: [String: Double] = [:]
        if let compare {
            if !json { Terminal.status("running llama-bench…") }
            reference = try LlamaBench(binary: compare).run(model: path, threads: model.threadCount,
                                                            prompt: promptTokens, generate: generatedTokens,
                                                            repetitions: repetitions)
        }
        let generation = tests.first { $0.name.hasPrefix("tg") }
        // Before the plain read, which touches weights that generating leaves unread (most of the
        // embedding table of a model with its own output layer).
        let peakResident = CPUInfo.peakResidentBytes()
        if generation != nil, !json { Terminal.status("reading the weights…") }
        let plainRead = generation.map { _ in model.weightReadSpeed() }
        let report = BenchReport(model: model.name, path: path, threads: model.threadCount,
                                 weightMiB: Double(model.weightBytes) / 1_048_576,
                                 decodeMiB: Double(model.decodeBytes) / 1_048_576,
                                 generationWeightGBPerSecond: generation.map { Double(model.decodeBytes) * $0.mean / 1e9 },
                                 plainReadGBPerSecond: plainRead,
                                 kernels: KernelPath.activeDescription, cpu: CPUInfo.current(),
                                 peakResidentMiB: Double(peakResident) / 1_048_576,
                                 tests: tests.map { t in
                                     BenchReport.Test(test: t.name, mean_tokens_per_second: t.mean,
                                                      stddev_tokens_per_second: t.stddev, samples: t.samples,
                                                      llamacpp_tokens_per_second: reference[t.name],
                                                      ratio_to_llamacpp: reference[t.name].map { t.mean / $0 })
                                 })
        if json { return try Terminal.json(report) }
        Terminal.write("model: \(report.model) (\(path))\nthreads: \(report.threads), kernels: \(report.kernels), cpu: \(report.cpu.model)\n")
        for t in report.tests {
            var line = "\(t.test.padding(toLength: 8, withPad: " ", startingAt: 0)) \(String(format: "%8.2f ± %.2f tok/s", t.mean_tokens_per_second, t.stddev_tokens_per_second))"
            if let ref = t.llamacpp_tokens_per_second, let ratio = t.ratio_to_llamacpp {
                line += String(format: "   llama.cpp %8.2f tok/s   ratio %.2fx", ref, ratio)
            }
            Terminal.write(line + "\n")
        }
        if let bandwidth = report.generationWeightGBPerSecond, let plain = report.plainReadGBPerSecond {
            Terminal.write(String(format: "weights: %.1f MiB, %.1f MiB read per token at %.1f GB/s while generating: %.0f %% of the %.1f GB/s of a plain read\n",
                                  report.weightMiB, report.decodeMiB, bandwidth, 100 * bandwidth / plain, plain))
        }
        Terminal.write(String(format: "peak resident memory: %.1f MiB\n", report.peakResidentMiB))
    }
}

extension Bench {
    /// N sequences sharing a prompt decode together (one forward pass per step) against one, with
    /// the default kernels and then with the ggml-order reference kernels.
    func runParallel(_ n: Int) throws {
        let model = try modelOptions.load(maxSequences: max(n, 1))
        let steps = max(generatedTokens, 1), prompt = max(promptOption ?? 64, 1)
        // The path and order in force, before the loop switches orders.
        let kernels = KernelPath.activeDescription, chosen = model.kernelOrder
        var figures: [ParallelReport.Figures] = []
        for order in [chosen] + KernelOrder.allCases.filter({ $0 != chosen }) {
            model.kernelOrder = order
            _ = try model.timeParallelDecode(sequences: n, prompt: prompt, steps: 4)   // warm-up
            var single: [Double] = [], many: [Double] = []
            for rep in 0..<repetitions {
                if !json { Terminal.status("\(order) order: repetition \(rep + 1) of \(repetitions)…") }
                single.append(try model.timeParallelDecode(sequences: 1, prompt: prompt, steps: steps, seed: UInt64(rep + 1)))
                many.append(try model.timeParallelDecode(sequences: n, prompt: prompt, steps: steps, seed: UInt64(rep + 1)))
            }
            let t1 = single.reduce(0, +) / Double(single.count), tn = many.reduce(0, +) / Double(many.count)
            figures.append(ParallelReport.Figures(order: order.rawValue, one_sequence_seconds: t1, n_sequences_seconds: tn,
                                                  ratio: tn / t1, one_sequence_tokens_per_second: Double(steps) / t1,
                                                  aggregate_tokens_per_second: Double(n * steps) / tn))
        }
        let report = ParallelReport(model: model.name, threads: model.threadCount, kernels: kernels,
                                    sequences: n, prompt_tokens: prompt, generated_tokens: steps, orders: figures)
        if json { return try Terminal.json(report) }
        Terminal.write(String(format: "%d sequence(s) x %d tokens from a shared %d-token prompt, %d threads\n", n, steps, prompt, model.threadCount))
        for f in figures {
            Terminal.write(String(format: "%@ order%@: one sequence %.3f s (%.1f tok/s), %d sequences %.3f s (%.1f tok/s aggregate), ratio %.2fx the time of one\n",
                                  f.order, f.order == KernelOrder.ggml.rawValue ? " (reference)" : "", f.one_sequence_seconds,
                                  f.one_sequence_tokens_per_second, n, f.n_sequences_seconds, f.aggregate_tokens_per_second, f.ratio))
        }
    }
}

extension Bench {
    /// N requests at once, each with its own random prompt, through the scheduler: the aggregate
    /// throughput of continuous batching, end to end.
    func runRequests(_ n: Int) async throws {
        let model = try modelOptions.load(maxSequences: max(n, 1))
        let prompt = max(promptOption ?? 64, 1), tokens = max(generatedTokens, 1)
        var random = SeededRandom(seed: 42)
        let prompts = (0..<n).map { _ in (0..<prompt).map { _ in Int32(random.next() % UInt64(model.tokenizer.vocabularySize)) } }
        let clock = ContinuousClock()
        let start = clock.now
        let results = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask {
                    var generated = 0
                    let request = GenerationRequest(prompt: .tokens(p), sampling: SamplingParameters(temperature: 0.8, seed: UInt64(i)),
                                                    maxTokens: tokens)
                    for try await event in model.generate(request) { if case .token = event { generated += 1 } }
                    return (generated, (clock.now - start).seconds)
                }
            }
            var all: [(Int, Double)] = []
            for try await r in group { all.append(r) }
            return all
        }
        let elapsed = (clock.now - start).seconds
        let total = results.reduce(0) { $0 + $1.0 }
        let report = RequestsReport(model: model.name, threads: model.threadCount, requests: n, prompt_tokens: prompt,
                                    max_tokens: tokens, completed: results.count, generated_tokens: total, seconds: elapsed,
                                    aggregate_tokens_per_second: Double(total) / elapsed,
                                    slowest_request_seconds: results.map { $0.1 }.max() ?? 0)
        if json { return try Terminal.json(report) }
        Terminal.write(String(format: "%d concurrent requests (%d-token prompts, up to %d tokens each): %d completed, %d tokens in %.2f s, %.1f tok/s aggregate\n",
                              n, prompt, tokens, report.completed, total, elapsed, report.aggregate_tokens_per_second))
    }
}

extension Bench {
    /// A list of records, unbounded, so that generation runs its full length through strings,
    /// numbers and structure alike.
    static let recordsSchema = """
        {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
         "email": {"type": "string"}, "member": {"type": "boolean"}}, "required": ["name", "age", "email", "member"]}}
        """

    /// The same chat prompt generated freely and under a format; per-token decode times compared.
    func runConstrained(_ spec: String) async throws {
        let format: OutputFormat
        switch spec {
        case "json": format = .jsonObject
        case "schema": format = .jsonSchema(Self.recordsSchema)
        default:
            guard let data = FileManager.default.contents(atPath: spec) else { throw ValidationError("--constrained: cannot read \(spec)") }
            format = .jsonSchema(String(decoding: data, as: UTF8.self))
        }
        let model = try modelOptions.load()
        let tokens = max(generatedTokens, 2)
        let messages: [ChatMessage] = [.user("Write a JSON list of twenty people with their name, age, email and whether they are members.")]
        func run(_ format: OutputFormat?, seed: UInt64) async throws -> Timings {
            let request = GenerationRequest(prompt: .chat(messages), sampling: SamplingParameters(temperature: 0.8, seed: seed),
                                            maxTokens: tokens, format: format)
            for try await event in model.generate(request) { if case .finished(_, _, let timings) = event { return timings } }
            throw ValidationError("the generation ended without a result")
        }
        _ = try await run(format, seed: 0)   // warm-up: builds the vocabulary trie
        var free: [Double] = [], bound: [Double] = []
        for rep in 0..<repetitions {
            if !json { Terminal.status("repetition \(rep + 1) of \(repetitions)…") }
            free.append(try await run(nil, seed: UInt64(rep + 1)).generationTokensPerSecond)
            bound.append(try await run(format, seed: UInt64(rep + 1)).generationTokensPerSecond)
        }
        let f = free.reduce(0, +) / Double(free.count), c = bound.reduce(0, +) / Double(bound.count)
        let report = ConstrainedReport(model: model.name, threads: model.threadCount, format: spec, max_tokens: tokens,
                                       free_tokens_per_second: f, constrained_tokens_per_second: c, overhead: f / c - 1)
        if json { return try Terminal.json(report) }
        Terminal.write(String(format: "free: %.1f tok/s, constrained (%@): %.1f tok/s, overhead %.1f%%\n", f, spec, c, report.overhead * 100))
    }
}

private struct ConstrainedReport: Encodable {
    var model: String
    var threads: Int
    var format: String
    var max_tokens: Int
    var free_tokens_per_second: Double
    var constrained_tokens_per_second: Double
    /// Extra time per token under the format: free speed ÷ constrained speed − 1.
    var overhead: Double
}

private struct RequestsReport: Encodable {
    var model: String
    var threads: Int
    var requests: Int
    var prompt_tokens: Int
    var max_tokens: Int
    var completed: Int
    var generated_tokens: Int
    var seconds: Double
    var aggregate_tokens_per_second: Double
    var slowest_request_seconds: Double
}

private struct ParallelReport: Encodable {
    /// One kernel order's timings.
    struct Figures: Encodable {
        var order: String
        var one_sequence_seconds: Double
        var n_sequences_seconds: Double
        /// Time of N sequences divided by the time of one.
        var ratio: Double
        var one_sequence_tokens_per_second: Double
        var aggregate_tokens_per_second: Double
    }
    var model: String
    var threads: Int
    var kernels: String
    var sequences: Int
    var prompt_tokens: Int
    var generated_tokens: Int
    /// The order in force first (the default unless MUSE_KERNEL_ORDER says otherwise), then the other.
    var orders: [Figures]
}

private struct TestResult {
    var name: String
    var tokens: Int
    var samples: [Double]
    var mean: Double { samples.reduce(0, +) / Double(samples.count) }
    var stddev: Double {
        guard samples.count > 1 else { return 0 }
        let m = mean
        return (samples.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(samples.count - 1)).squareRoot()
    }
}

struct BenchReport: Encodable {
    struct Test: Encodable {
        var test: String
        var mean_tokens_per_second: Double
        var stddev_tokens_per_second: Double
        var samples: [Double]
        var llamacpp_tokens_per_second: Double?
        var ratio_to_llamacpp: Double?
    }
    var model: String
    var path: String
    var threads: Int
    /// Size of the weights.
    var weightMiB: Double
    /// What a decode step reads: every weight but an embedding table that is not also the output.
    var decodeMiB: Double
    /// Bytes read per second while generating (decodeMiB per token x tokens per second).
    var generationWeightGBPerSecond: Double?
    /// The same threads reading the bytes of a decode step once and doing nothing else: the
    /// ceiling of generation on this machine.
    var plainReadGBPerSecond: Double?
    var kernels: String
    var cpu: CPUInfo
    var peakResidentMiB: Double
    var tests: [Test]
}

/// What the machine is, for the record.
struct CPUInfo: Encodable {
    var model: String
    var cores: Int
    var features: [String]

    static func current() -> CPUInfo {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        func field(_ name: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix(name) }?.split(separator: ":", maxSplits: 1).last
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let interesting: Set<String> = ["avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                        "avx_vnni", "avx512_bf16", "amx_tile", "neon", "asimd", "sve"]
        let flags = (field("flags") ?? field("Features") ?? "").split(separator: " ").map(String.init)
        return CPUInfo(model: field("model name") ?? "unknown", cores: ProcessInfo.processInfo.activeProcessorCount,
                       features: flags.filter { interesting.contains($0) }.sorted())
    }

    /// The process's peak resident set (VmHWM), in bytes.
    static func peakResidentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb * 1024
    }
}

/// Runs llama-bench with the same settings and reads its JSON: tokens per second by test name.
struct LlamaBench {
    var binary: String

    func run(model: String, threads: Int, prompt: Int, generate: Int, repetitions: Int) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["-m", model, "-t", "\(threads)", "-p", "\(prompt)", "-n", "\(generate)",
                             "-r", "\(repetitions)", "-o", "json"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { throw ValidationError("cannot run \(binary): \(error.localizedDescription)") }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              case .array(let rows)? = try? JSONValue.parse([UInt8](data)) else {
            throw ValidationError("\(binary) failed (exit \(process.terminationStatus)) or printed no JSON")
        }
        var result: [String: Double] = [:]
        for row in rows {
            guard case .number(let speed)? = row["avg_ts"] else { continue }
            func count(_ key: String) -> Int { if case .number(let n)? = row[key] { n.integer ?? 0 } else { 0 } }
            let p = count("n_prompt"), g = count("n_gen")
            result[p > 0 ? "pp\(p)" : "tg\(g)"] = speed.double
        }
        return result
    }
}
