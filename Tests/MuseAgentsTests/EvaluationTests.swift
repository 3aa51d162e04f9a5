// Loading question sets and scoring replies.
import Foundation
import Testing
@testable import MuseAgents

@Suite struct EvaluationTests {
    @Test func loadsJSONLinesAndNamesTheBadLine() throws {
        let items = try Evaluation.load("{\"question\": \"1+1?\", \"answer\": \"2\"}\n\n{\"question\": \"Sky?\", \"answer\": \"blue\"}\n")
        #expect(items == [EvalItem(question: "1+1?", answer: "2"), EvalItem(question: "Sky?", answer: "blue")])
        #expect(throws: EvalError.self) { try Evaluation.load("{\"question\": \"x\", \"answer\": \"y\"}\nnot json") }
        do {
            _ = try Evaluation.load("{\"question\": \"x\"}")
            Issue.record("a line without an answer must be refused")
        } catch {
            #expect("\(error)".contains("line 1"))
        }
        #expect(throws: EvalError.self) { try Evaluation.load("\n\n") }
    }

    @Test func numbersMustBeTheLastNumberOfTheReply() {
        #expect(Evaluation.isCorrect(reply: "6 x 7 = 42", expected: "42"))
        #expect(Evaluation.isCorrect(reply: "It costs 1,250 dollars.", expected: "1250"))
        #expect(!Evaluation.isCorrect(reply: "42 is wrong, it is 41", expected: "42"))
        #expect(!Evaluation.isCorrect(reply: "no number here", expected: "42"))
        // A boxed result is the answer, whatever numbers follow it.
        #expect(Evaluation.isCorrect(reply: "So Anna will be \\boxed{41} years old in 5 years.", expected: "41"))
        #expect(Evaluation.isCorrect(reply: "\\boxed{1,250.0} dollars for 3 items", expected: "1250"))
        #expect(!Evaluation.isCorrect(reply: "First \\boxed{40}, then it is 41", expected: "41"))
        #expect(Evaluation.isCorrect(reply: "The sky is Blue.", expected: "blue"))
        #expect(!Evaluation.isCorrect(reply: "The sky is bluish.", expected: "blue"))
    }

    @Test func theShippedSetIsWellFormed() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("evals/arithmetic.jsonl")
        let items = try Evaluation.load(String(contentsOf: url, encoding: .utf8))
        #expect(items.count >= 30)
        #expect(items.allSatisfy { Vote.number(in: $0.answer) == $0.answer })
    }

    @Test func runScoresEveryItem() async throws {
        let model = ScriptedModel { messages in messages.last?.text.contains("2+2") == true ? "4" : "I do not know" }
        let report = try await Evaluation.run([EvalItem(question: "2+2?", answer: "4"), EvalItem(question: "3+3?", answer: "6")],
                                              assistant: Assistant(model: model), mode: .instant)
        #expect(report.questions == 2)
        #expect(report.correct == 1)
        #expect(report.accuracy == 0.5)
        #expect(report.failed == 0 && report.results.allSatisfy { $0.error == nil })
    }

    @Test func aFailedQuestionIsRecordedAndTheRunGoesOn() async throws {
        struct Unreachable: Error, CustomStringConvertible { var description: String { "the server went away" } }
        let model = ScriptedModel { messages in
            if messages.last?.text.contains("3+3") == true { throw Unreachable() }
            return "4"
        }
        let items = ["2+2?", "3+3?", "1+3?"].map { EvalItem(question: $0, answer: "4") }
        let report = try await Evaluation.run(items, assistant: Assistant(model: model), mode: .instant)
        #expect(report.questions == 3 && report.correct == 2 && report.failed == 1)
        #expect(report.results[1].error?.contains("the server went away") == true && !report.results[1].correct)
        #expect(report.results[2].answer == "4")
        #expect(abs(report.accuracy - 2.0 / 3) < 1e-9)
    }
}
