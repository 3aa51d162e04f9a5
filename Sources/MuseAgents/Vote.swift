// Majority vote over short answers (a number, a choice, yes/no), compared after normalising.
import Foundation

struct Vote {
    /// Normalised answer -> how many agents gave it.
    let counts: [String: Int]
    /// The answer most agents gave; nil when the top count is shared.
    let winner: String?
    /// Whether every answer is short (`isShort`).
    let allShort: Bool
    /// The winner when the vote settles the question: more than half of the answers give it,
    /// whatever their length (answers in each agent's own wording agree only when their result
    /// does), or every answer is short and it leads alone. Nil: a synthesis decides.
    let decision: String?

    /// An answer with neither letters nor digits (a stray "]" or "…") has nothing to vote for and
    /// is left out; when every answer is such, there is no winner.
    init(_ answers: [String]) {
        var counts: [String: Int] = [:]
        for answer in answers {
            let key = Self.key(Self.final(answer))
            if !key.isEmpty { counts[key, default: 0] += 1 }
        }
        self.counts = counts
        let top = counts.values.max() ?? 0
        let leaders = counts.filter { $0.value == top }.map(\.key)
        winner = leaders.count == 1 ? leaders[0] : nil
        allShort = Self.isShort(answers)
        decision = winner.flatMap { [allShort] in top * 2 > answers.count || allShort ? $0 : nil }
    }

    /// Answers are short (a number, a choice, yes/no) when every one's final answer is a few words
    /// at most; a number inside a long explanation does not make it short.
    static func isShort(_ answers: [String]) -> Bool {
        !answers.isEmpty && answers.allSatisfy { final($0).split(whereSeparator: \.isWhitespace).count <= 6 }
    }

    /// Whether every answer has a result to state in a line: it is short, or it has a number.
    static func haveResults(_ answers: [String]) -> Bool {
        answers.allSatisfy { isShort([$0]) || number(in: final($0)) != nil }
    }

    /// What follows the last "Answer:" (its first line), or the whole text when there is none: agents
    /// are asked to end with such a line, so reasoning before it does not count in the vote.
    static func final(_ answer: String) -> String {
        guard let marker = answer.range(of: "answer:", options: [.caseInsensitive, .backwards]) else { return answer }
        let rest = answer[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
        return String(rest.split(separator: "\n", maxSplits: 1).first ?? "")
    }

    /// The comparable core of an answer: its last number if it has one (commas dropped, trailing
    /// zeros of decimals trimmed), else its words lowercased without punctuation.
    static func key(_ answer: String) -> String {
        if let n = number(in: answer) { return n }
        return answer.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == " " }
            .map(String.init).joined().split(separator: " ").joined(separator: " ")
    }

    /// The answer's number: the last one inside the last `\boxed{…}` when the text has one (the
    /// way math-tuned models such as Qwen mark their result, often followed by more numbers in
    /// words: "\boxed{41} years old in 5 years"), else the last number of the text.
    static func number(in text: String) -> String? {
        let pattern = /-?\d[\d,]*(?:\.\d+)?/
        let boxed = text.matches(of: /\\boxed\{([^{}]*)\}/).last.map { String($0.output.1) }
        if let boxed, let match = boxed.matches(of: pattern).last { return normalized(String(match.output)) }
        guard let match = text.matches(of: pattern).last else { return nil }
        return normalized(String(match.output))
    }

    private static func normalized(_ number: String) -> String {
        var n = number.replacingOccurrences(of: ",", with: "")
        if n.contains(".") {
            while n.hasSuffix("0") { n.removeLast() }
            if n.hasSuffix(".") { n.removeLast() }
        }
        return n
    }
}
