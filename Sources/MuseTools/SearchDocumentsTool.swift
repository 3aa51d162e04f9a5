// The search_documents tool: ranked full-text search over the user's indexed folders, answered as
// "file:line: snippet" lines that the model can quote and cite.
import Foundation
import MuseAgents
import MuseCore

public struct SearchDocumentsTool: Tool {
    public let name = "search_documents"
    public let description = """
        Search the user's own documents (notes, text files, code) by keywords. \
        Returns the best-matching passages as path:line: snippet, matches marked «like this».
        """
    public let parametersSchema = """
        {"type": "object", "properties": {\
        "query": {"type": "string", "description": "Words to search for; passages with more and rarer matching words rank first"}, \
        "limit": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many passages to return, default 5"}}, \
        "required": ["query"]}
        """

    static let defaultLimit = 5
    static let maxLimit = 20

    let index: DocumentIndex

    public init(index: DocumentIndex) {
        self.index = index
    }

    public func call(arguments: String) async throws -> String {
        let query = try stringArgument("query", in: arguments)
        guard query.contains(where: { $0.isLetter || $0.isNumber }) else {
            throw ToolError.badArguments("\"query\" needs at least one word to search for")
        }
        let hits = try index.search(query, limit: try Self.limit(in: arguments))
        guard !hits.isEmpty else { return "no matches" }
        return hits.map { "\($0.path):\($0.line): \($0.snippet)" }.joined(separator: "\n")
    }

    /// The optional "limit": a whole number from 1, capped at `maxLimit`.
    static func limit(in arguments: String) throws(ToolError) -> Int {
        guard let value = (try? ToolArguments(arguments, example: ""))?["limit"] else { return defaultLimit }
        guard case .number(let number) = value, let whole = number.integer, whole >= 1 else {
            throw .badArguments("\"limit\" must be a whole number from 1 to \(maxLimit)")
        }
        return min(whole, maxLimit)
    }
}
