// Measuring whether a mode helps: questions with exact answers, run through the assistant, scored.
import Foundation
import MuseCore

public struct EvalItem: Sendable, Codable, Equatable {
    public var question: String
    public var answer: String
}

public enum EvalError: Error, Sendable, CustomStringConvertible {
    case badLine(Int, String)
    case empty

    public var description: String {
        switch self {
        case let .badLine(n, why): "line \(n): \(why) (each line must be a JSON object {\"question\": ..., \"answer\": ...})"
        case .empty: "the evaluation file has no questions"
        }
    }
}

public struct EvalResult: Sendable, Codable {
    public var question: String
    public var expected: String
    public var answer: String
    public var correct: Bool
    public var seconds: Double
    public var tokens: Int
    /// Why the question got no answer (the model or the server failed); it then counts as wrong.
    public var error: String?
}

public struct EvalReport: Sendable, Codable {
    public var mode: String
    public var questions: Int
    public var correct: Int
    /// Questions that got no answer because of an error.
    public var failed: Int
    /// Correct answers over all questions, failed ones included.
    public var accuracy: Double
    /// Over the questions that got an answer.
    public var meanSeconds: Double
    public var meanTokens: Double
    public var results: [EvalResult]
}

public enum Evaluation {
    /// Reads JSON Lines of {"question", "answer"}; blank lines are skipped.
    public static func load(_ text: String) throws(EvalError) -> [EvalItem] {
        var items: [EvalItem] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let item = try? JSONDecoder().decode(EvalItem.self, from: Data(trimmed.utf8)) else {
                throw .badLine(i + 1, "not a JSON object with string fields question and answer")
            }
            items.append(item)
        }
        if items.isEmpty { throw .empty }
        return items
    }

    /// A numeric expected answer must be the reply's answer number (the one in its last `\boxed{}`,
    /// else its last number); otherwise the expected words must appear in the reply (case and
    /// punctuation ignored).
    public static func isCorrect(reply: String, expected: String) -> Bool {
        if let want = Vote.number(in: expected), expected.split(whereSeparator: \.isWhitespace).count == 1 {
            return Vote.number(in: reply) == want
        }
        return (" " + Vote.key(reply) + " ").contains(" " + Vote.key(expected) + " ")
    }

    /// Runs every item in `mode`, one after another, and scores it. A question whose run fails is
    /// recorded with its error and the run goes on; only cancellation stops it. `progress` sees
    /// each result.
    public static func run(_ items: [EvalItem], assistant: Assistant, mode: Mode,
                           progress: (Int, EvalResult) -> Void = { _, _ in }) async throws -> EvalReport {
        var results: [EvalResult] = []
        for (i, item) in items.enumerated() {
            let start = ContinuousClock.now
            var final: AssistantResult?, failure: String?
            do {
                for try await event in assistant.run([.user(item.question)], mode: mode) {
                    if case .done(let r) = event { final = r }
                }
                if final == nil { failure = "the run ended without an answer" }
            } catch {
                try Task.checkCancellation()
                failure = "\(error)"
            }
            let answer = final?.answer ?? ""
            let result = EvalResult(question: item.question, expected: item.answer, answer: answer,
                                    correct: failure == nil && isCorrect(reply: answer, expected: item.answer),
                                    seconds: final?.seconds ?? (ContinuousClock.now - start).seconds,
                                    tokens: final?.usage.completionTokens ?? 0, error: failure)
            results.append(result)
            progress(i, result)
        }
        let answered = results.filter { $0.error == nil }
        let n = Double(max(answered.count, 1))
        let correct = results.filter(\.correct).count
        return EvalReport(mode: mode.name, questions: results.count, correct: correct, failed: results.count - answered.count,
                          accuracy: Double(correct) / Double(max(results.count, 1)),
                          meanSeconds: answered.reduce(0) { $0 + $1.seconds } / n,
                          meanTokens: Double(answered.reduce(0) { $0 + $1.tokens }) / n, results: results)
    }
}
