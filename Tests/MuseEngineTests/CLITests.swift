// The built `muse` binary end to end on the default model.
import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.museBinary != nil && TestEnvironment.smolLM2Path != nil, "needs the built muse binary and the default model"))
struct CLITests {
    /// Runs `muse` on a thread of its own: waiting for a child process must not hold one of the few
    /// threads that every async test shares.
    func muse(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) async throws -> (status: Int32, out: String, err: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try runMuse(arguments, environment: environment, input: input) }) }.start()
        }
    }

    private func runMuse(_ arguments: [String], environment: [String: String], input: String?) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.museBinary!)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// On the default model. (SmolLM2 answers this question in French about one time in two when
    /// sampled, and greedily in French or English depending on last-bit rounding.)
    @Test(.enabled(if: TestEnvironment.hasQwen, "needs the default model"))
    func askGivesANonEmptyEnglishAnswer() async throws {
        let r = try await muse(["ask", "What is the capital of France?", "--json", "--temperature", "0", "--max-tokens", "48",
                          "--model", TestEnvironment.qwenPath!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let answer = try #require(object["answer"] as? String)
        let words = answer.split { !$0.isLetter }.map { $0.lowercased() }
        #expect(words.count >= 3, "answer: \(answer)")
        // English: common function words appear, and the text is mostly ASCII letters.
        let english: Set<String> = ["the", "is", "of", "a", "and", "in", "paris", "capital", "france", "it"]
        #expect(words.contains { english.contains($0) }, "answer: \(answer)")
        #expect(object["usage"] != nil && object["timings"] != nil)
    }

    @Test func aRequiredCalculatorCallAnswersThePercentage() async throws {
        let r = try await muse(["ask", "What is 12.5% of 3,480?", "--tools", "calculator", "--tool-choice", "required",
                          "--temperature", "0", "--max-tokens", "100", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let calls = try #require(object["tool_calls"] as? [[String: Any]])
        #expect(calls.first?["name"] as? String == "calculator")
        #expect(calls.first?["result"] as? String == "435", "\(calls)")
        #expect((object["answer"] as? String)?.contains("435") == true, "\(object)")
    }

    /// `--mcp`: the project's own MCP server, started for the run over stdio, its tools listed and
    /// one called by name; the call's result reaches the answer.
    @Test func anMCPServersToolIsCalledFromTheCommandLine() async throws {
        let server = URL(fileURLWithPath: TestEnvironment.museBinary!).deletingLastPathComponent()
            .appendingPathComponent("muse-test-mcp-server").path
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("muse-cli-mcp-\(UUID().uuidString).json")
        try #"{"servers": {"test": {"command": "\#(server)"}}}"#.write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let arguments = ["ask", "Echo the word banana.", "--mcp", config.path, "--tool-choice", "echo",
                         "--temperature", "0", "--max-tokens", "60", "--model", TestEnvironment.smolLM2Path!]
        let traced = try await muse(arguments + ["--trace"])
        #expect(traced.status == 0, "\(traced.err)")
        #expect(traced.err.contains("test (muse-test-mcp-server 1.0): echo, add, sleep, crash, fail"), "\(traced.err)")
        #expect(traced.err.contains("[tool] echo("), "\(traced.err)")
        let r = try await muse(arguments + ["--json"])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let call = try #require((object["tool_calls"] as? [[String: Any]])?.first)
        #expect(call["name"] as? String == "echo")
        let callArguments = try #require(call["arguments"] as? String)
        let text = try #require((try JSONSerialization.jsonObject(with: Data(callArguments.utf8)) as? [String: Any])?["text"] as? String)
        // The test server returns its argument as is: the result is the model's own text, round-tripped.
        #expect(call["result"] as? String == text && call["error"] as? Bool == false, "\(call)")
    }

    @Test func jsonSchemaOutputFromTheCommandLine() async throws {
        let schema = FileManager.default.temporaryDirectory.appendingPathComponent("muse-cli-schema-\(UUID().uuidString).json")
        try #"{"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}, "country": {"type": "string", "maxLength": 20}}, "required": ["city", "country"]}"#
            .write(to: schema, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: schema) }
        let r = try await muse(["chat", "--response-format", schema.path, "--temperature", "0", "--max-tokens", "80",
                          "--model", TestEnvironment.smolLM2Path!], input: "Where is the Eiffel Tower?\n/exit\n")
        #expect(r.status == 0, "\(r.err)")
        let line = try #require(r.out.split(separator: "\n").first { $0.contains("{") })
        let json = String(line[line.firstIndex(of: "{")!...])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(r.out)")
        #expect(object["city"] is String && object["country"] is String)
        let bad = try await muse(["complete", "x", "--response-format", "/nonexistent.json", "--model", TestEnvironment.smolLM2Path!])
        #expect(bad.status != 0 && bad.err.contains("cannot read"))
    }

    @Test func tokenizeAndCompleteSpeakJSON() async throws {
        let t = try await muse(["tokenize", "Hi there, friend.", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(t.status == 0, "\(t.err)")
        let tokens = try #require((try JSONSerialization.jsonObject(with: Data(t.out.utf8)) as? [String: Any])?["tokens"] as? [Int])
        #expect(!tokens.isEmpty)

        let c = try await muse(["complete", "The sun rises in the", "--json", "--temperature", "0", "--max-tokens", "5",
                          "--model", TestEnvironment.smolLM2Path!])
        #expect(c.status == 0, "\(c.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.out.utf8)) as? [String: Any])
        #expect((object["tokens"] as? [Int])?.count == 5)
        #expect((object["text"] as? String)?.isEmpty == false)
    }

    /// The scalar reference kernels in ggml's order, forced through the environment, run the model
    /// to llama.cpp's bits.
    @Test(.enabled(if: TestEnvironment.hasSmolLM2)) func scalarKernelsAgreeWithLlamaCpp() async throws {
        let fixture = try LlamaCppFixture.load(TestEnvironment.smolLM2Fixture)
        let c = try #require(fixture.complete.first)
        let r = try await muse(["complete", c.prompt, "--json", "--temperature", "0", "--max-tokens", "20", "--threads", "2",
                          "--model", TestEnvironment.smolLM2Path!], environment: ["MUSE_KERNELS": "scalar", "MUSE_KERNEL_ORDER": "ggml"])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let tokens = try #require(object["tokens"] as? [Int])
        #expect(tokens == c.tokens.prefix(20).map(Int.init))

        let bad = try await muse(["tokenize", "x", "--model", TestEnvironment.smolLM2Path!], environment: ["MUSE_KERNELS": "avx9000"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("not a kernel path"))
    }

    @Test func contemplatingRunsFourAgentsAndGivesOneAnswer() async throws {
        let r = try await muse(["ask", "What is 6 times 7?", "--mode", "contemplating", "--agents", "4", "--seed", "5",
                          "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "contemplating")
        let agents = try #require(object["agents"] as? [[String: Any]])
        #expect(agents.count == 4)
        #expect(Set(agents.compactMap { $0["role"] as? String }) == ["solver", "verifier", "alternative", "skeptic"])
        #expect(agents.allSatisfy { ($0["tokens"] as? Int ?? 0) > 0 })
        #expect(!((object["answer"] as? String) ?? "").isEmpty)

        let thinking = try await muse(["ask", "What is 6 times 7?", "--mode", "thinking", "--budget", "32", "--seed", "5",
                                 "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(thinking.status == 0, "\(thinking.err)")
        let t = try #require(try JSONSerialization.jsonObject(with: Data(thinking.out.utf8)) as? [String: Any])
        #expect(t["mode"] as? String == "thinking")
        #expect(!((t["reasoning"] as? String) ?? "").isEmpty)
        #expect(!((t["answer"] as? String) ?? "").isEmpty)
    }

    @Test func subAgentsSplitTheTaskAndTheParentAnswers() async throws {
        let r = try await muse(["ask", "Plan a small birthday party for ten people.", "--subagents", "3", "--seed", "2",
                          "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "subagents")
        let agents = try #require(object["agents"] as? [[String: Any]])
        #expect((2...3).contains(agents.count))
        #expect(!((object["answer"] as? String) ?? "").isEmpty)
    }

    @Test func benchReportsBothTestsAsJSON() async throws {
        let r = try await muse(["bench", "-p", "32", "-n", "8", "-r", "2", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let tests = try #require(object["tests"] as? [[String: Any]])
        #expect(tests.compactMap { $0["test"] as? String } == ["pp32", "tg8"])
        for test in tests {
            #expect(((test["mean_tokens_per_second"] as? Double) ?? 0) > 0)
            #expect((test["samples"] as? [Double])?.count == 2)
        }
        #expect(((object["peakResidentMiB"] as? Double) ?? 0) > 50)
        // Generating reads the weights no faster than reading them and nothing else (slack for noise).
        let generating = try #require(object["generationWeightGBPerSecond"] as? Double)
        let plain = try #require(object["plainReadGBPerSecond"] as? Double)
        #expect(plain > 0 && generating < 1.5 * plain, "\(generating) vs \(plain) GB/s")
        #expect((object["cpu"] as? [String: Any])?["features"] is [String])
    }

    @Test func parallelBenchReportsTheDefaultAndTheReferenceOrder() async throws {
        let r = try await muse(["bench", "--parallel", "2", "-p", "8", "-n", "4", "-r", "1", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let orders = try #require(object["orders"] as? [[String: Any]])
        #expect(orders.compactMap { $0["order"] as? String } == ["blocks", "ggml"])
        // The kernels named are those of the default run, not of the reference run that came last.
        #expect((object["kernels"] as? String)?.contains("ggml") == false)
        #expect(orders.allSatisfy { (($0["ratio"] as? Double) ?? 0) > 0 && (($0["aggregate_tokens_per_second"] as? Double) ?? 0) > 0 })
    }

    @Test func badInputGivesAClearError() async throws {
        let missing = try await muse(["ask", "hi", "--model", "/no/such/model.gguf"])
        #expect(missing.status != 0)
        #expect(missing.err.contains("neither a file nor a known model"))

        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("junk-\(UUID().uuidString).gguf")
        try Data("GGUF this is not a model".utf8).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        let bad = try await muse(["ask", "hi", "--model", junk.path])
        #expect(bad.status != 0)
        #expect(bad.err.contains("cannot read the model file"))

        let badOption = try await muse(["ask", "hi", "--temperature", "-1"])
        #expect(badOption.status != 0)

        // Closed choices are refused by name, with the choices listed.
        let mode = try await muse(["ask", "hi", "--mode", "pondering"])
        #expect(mode.status != 0)
        #expect(mode.err.contains("pondering") && mode.err.contains("contemplating"))
        let format = try await muse(["ask", "hi", "--tools", "calculator", "--tool-format", "xml"])
        #expect(format.status != 0)
        #expect(format.err.contains("xml") && format.err.contains("llama3"))
    }

    static var hasFFmpeg: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg") }

    /// `muse transcribe` on a WAV clip, the same clip as a voice note (OGG/Opus, through ffmpeg),
    /// and files that are not audio.
    @Test(.enabled(if: TestEnvironment.whisperPath != nil, "needs whisper-base"))
    func transcribeReadsWAVAndVoiceNotes() async throws {
        let model = TestEnvironment.whisperPath!
        let clip = TranscriberTests.fixtures.appendingPathComponent("clip05.wav").path
        let expected = TranscriberTests.references["clip05.wav"]?.map(\.text).joined().trimmingCharacters(in: .whitespaces)
        let r = try await muse(["transcribe", clip, "--json", "--language", "en", "--model", model])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["text"] as? String == expected)
        #expect(object["language"] as? String == "en")
        #expect((object["segments"] as? [Any])?.count == TranscriberTests.references["clip05.wav"]?.count)
        #expect(r.err.contains("Transcribed"), "progress goes to standard error")

        let timed = try await muse(["transcribe", clip, "--timestamps", "--model", model])
        #expect(timed.out.hasPrefix("[   0.00 → "), "\(timed.out)")

        // The clip as a voice note (OGG/Opus) and as MP3, decoded through ffmpeg.
        for (ext, codec) in Self.hasFFmpeg ? [("ogg", "libopus"), ("mp3", "libmp3lame")] : [] {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("muse-voice-\(UUID().uuidString).\(ext)")
            defer { try? FileManager.default.removeItem(at: file) }
            let convert = Process()
            convert.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            convert.arguments = ["-nostdin", "-loglevel", "error", "-i", clip, "-c:a", codec, "-b:a", "32k", file.path]
            try convert.run()
            convert.waitUntilExit()
            let voice = try await muse(["transcribe", file.path, "--model", model])
            #expect(voice.status == 0, "\(voice.err)")
            #expect(voice.out.contains("walked her dog around the park"), "\(ext): \(voice.out)")
        }

        let missing = try await muse(["transcribe", "/nonexistent/memo.wav", "--model", model])
        #expect(missing.status != 0 && missing.err.contains("/nonexistent/memo.wav"))
        let text = FileManager.default.temporaryDirectory.appendingPathComponent("muse-not-audio-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: text) }
        try Data("RIFF\u{0}\u{0}\u{0}\u{0}WAVEjunk".utf8).write(to: text)
        let junk = try await muse(["transcribe", text.path, "--model", model])
        #expect(junk.status != 0 && junk.err.contains("WAV"), "\(junk.err)")
    }
}
