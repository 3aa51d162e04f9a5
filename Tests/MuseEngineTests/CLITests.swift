// The built `muse` binary end to end on the default model.
import Foundation
import Testing

@Suite(.enabled(if: TestEnvironment.museBinary != nil && TestEnvironment.smolLM2Path != nil, "needs the built muse binary and the default model"))
struct CLITests {
    func muse(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.museBinary!)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test func askGivesANonEmptyEnglishAnswer() throws {
        let r = try muse(["ask", "What is the capital of France?", "--json", "--seed", "1", "--max-tokens", "48",
                          "--model", TestEnvironment.smolLM2Path!])
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

    @Test func tokenizeAndCompleteSpeakJSON() throws {
        let t = try muse(["tokenize", "Hi there, friend.", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(t.status == 0, "\(t.err)")
        let tokens = try #require((try JSONSerialization.jsonObject(with: Data(t.out.utf8)) as? [String: Any])?["tokens"] as? [Int])
        #expect(!tokens.isEmpty)

        let c = try muse(["complete", "The sun rises in the", "--json", "--temperature", "0", "--max-tokens", "5",
                          "--model", TestEnvironment.smolLM2Path!])
        #expect(c.status == 0, "\(c.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(c.out.utf8)) as? [String: Any])
        #expect((object["tokens"] as? [Int])?.count == 5)
        #expect((object["text"] as? String)?.isEmpty == false)
    }

    /// The scalar reference kernels, forced through the environment, run the model to the same bits.
    @Test(.enabled(if: TestEnvironment.hasSmolLM2)) func scalarKernelsAgreeWithLlamaCpp() throws {
        let fixture = try LlamaCppFixture.load(TestEnvironment.smolLM2Fixture)
        let c = try #require(fixture.complete.first)
        let r = try muse(["complete", c.prompt, "--json", "--temperature", "0", "--max-tokens", "20", "--threads", "2",
                          "--model", TestEnvironment.smolLM2Path!], environment: ["MUSE_KERNELS": "scalar"])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let tokens = try #require(object["tokens"] as? [Int])
        #expect(tokens == c.tokens.prefix(20).map(Int.init))

        let bad = try muse(["tokenize", "x", "--model", TestEnvironment.smolLM2Path!], environment: ["MUSE_KERNELS": "avx9000"])
        #expect(bad.status != 0)
        #expect(bad.err.contains("not a kernel path"))
    }

    @Test func contemplatingRunsFourAgentsAndGivesOneAnswer() throws {
        let r = try muse(["ask", "What is 6 times 7?", "--mode", "contemplating", "--agents", "4", "--seed", "5",
                          "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "contemplating")
        let agents = try #require(object["agents"] as? [[String: Any]])
        #expect(agents.count == 4)
        #expect(Set(agents.compactMap { $0["role"] as? String }) == ["solver", "verifier", "alternative", "skeptic"])
        #expect(agents.allSatisfy { ($0["tokens"] as? Int ?? 0) > 0 })
        #expect(!((object["answer"] as? String) ?? "").isEmpty)

        let thinking = try muse(["ask", "What is 6 times 7?", "--mode", "thinking", "--budget", "32", "--seed", "5",
                                 "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(thinking.status == 0, "\(thinking.err)")
        let t = try #require(try JSONSerialization.jsonObject(with: Data(thinking.out.utf8)) as? [String: Any])
        #expect(t["mode"] as? String == "thinking")
        #expect(!((t["reasoning"] as? String) ?? "").isEmpty)
        #expect(!((t["answer"] as? String) ?? "").isEmpty)
    }

    @Test func subAgentsSplitTheTaskAndTheParentAnswers() throws {
        let r = try muse(["ask", "Plan a small birthday party for ten people.", "--subagents", "3", "--seed", "2",
                          "--max-tokens", "24", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(object["mode"] as? String == "subagents")
        let agents = try #require(object["agents"] as? [[String: Any]])
        #expect((2...3).contains(agents.count))
        #expect(!((object["answer"] as? String) ?? "").isEmpty)
    }

    @Test func benchReportsBothTestsAsJSON() throws {
        let r = try muse(["bench", "-p", "32", "-n", "8", "-r", "2", "--json", "--model", TestEnvironment.smolLM2Path!])
        #expect(r.status == 0, "\(r.err)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let tests = try #require(object["tests"] as? [[String: Any]])
        #expect(tests.compactMap { $0["test"] as? String } == ["pp32", "tg8"])
        for test in tests {
            #expect(((test["mean_tokens_per_second"] as? Double) ?? 0) > 0)
            #expect((test["samples"] as? [Double])?.count == 2)
        }
        #expect(((object["peakResidentMiB"] as? Double) ?? 0) > 50)
        #expect((object["cpu"] as? [String: Any])?["features"] is [String])
    }

    @Test func badInputGivesAClearError() throws {
        let missing = try muse(["ask", "hi", "--model", "/no/such/model.gguf"])
        #expect(missing.status != 0)
        #expect(missing.err.contains("neither a file nor a known model"))

        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("junk-\(UUID().uuidString).gguf")
        try Data("GGUF this is not a model".utf8).write(to: junk)
        defer { try? FileManager.default.removeItem(at: junk) }
        let bad = try muse(["ask", "hi", "--model", junk.path])
        #expect(bad.status != 0)
        #expect(bad.err.contains("cannot read the model file"))

        let badOption = try muse(["ask", "hi", "--temperature", "-1"])
        #expect(badOption.status != 0)
    }
}
