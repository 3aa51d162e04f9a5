// The remember and recall tools: the model's access to one user's long-term memory. Each is
// bound to a store and a user when the assistant is set up, so a call can never reach another
// user's facts; deleting facts is left to the user, through the store's API.
import Foundation
import MuseAgents
import MuseCore

public struct RememberTool: Tool {
    public let name = "remember"
    public let description = """
        Save a short fact about the user for later conversations, when the user asks you to remember \
        something or states a lasting preference. One fact per call, written as a full sentence.
        """
    public let parametersSchema = """
        {"type": "object", "properties": {"fact": {"type": "string", "description": "The fact, e.g. \\"The user's daughter is called Ana\\""}}, "required": ["fact"]}
        """

    let store: MemoryStore
    let user: String

    public init(store: MemoryStore, user: String) {
        self.store = store
        self.user = user
    }

    public func call(arguments: String) async throws -> String {
        let fact = try stringArgument("fact", in: arguments)
        let remembered: MemoryStore.Remembered
        do {
            remembered = try store.remember(user: user, fact: fact)
        } catch let error as MemoryStoreError {
            throw ToolError.badArguments(error.description)
        }
        return remembered.isNew ? "Remembered: \(remembered.fact.text)" : "Already remembered: \(remembered.fact.text)"
    }
}

public struct RecallTool: Tool {
    public let name = "recall"
    public let description = """
        Look up facts saved about the user in earlier conversations. \
        Returns the facts that best match the query, or the most recent ones if none match.
        """
    public let parametersSchema = """
        {"type": "object", "properties": {"query": {"type": "string", "description": "Words to look for, e.g. \\"daughter name\\"; empty for the most recent facts"}}, "required": ["query"]}
        """

    static let limit = 10

    let store: MemoryStore
    let user: String

    public init(store: MemoryStore, user: String) {
        self.store = store
        self.user = user
    }

    public func call(arguments: String) async throws -> String {
        let query = try stringArgument("query", in: arguments)
        let matches = try store.search(user: user, query: query, limit: Self.limit)
        if !matches.isEmpty { return Self.list(matches) }
        let recent = try store.recent(user: user, limit: Self.limit)
        guard !recent.isEmpty else { return "No facts are saved for this user." }
        // Saying that these are not matches keeps the model from reading them as an answer.
        let lead = query.contains { $0.isLetter || $0.isNumber } ? "No saved fact matches; the most recent ones:\n" : ""
        return lead + Self.list(recent)
    }

    /// One fact a line, with the date it was saved: "- The user lives in Porto (saved 2025-03-02)".
    static func list(_ facts: [Fact]) -> String {
        facts.map { "- \($0.text) (saved \(day($0.remembered)))" }.joined(separator: "\n")
    }

    static func day(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .gmt
        let c = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }
}
