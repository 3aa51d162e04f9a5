// The web chat's conversations, kept on the server in a SQLite file (GRDB): each conversation with
// its messages, an answer's reasoning and agent trace included, so a page reloaded (or opened on
// another machine) shows everything as it was.
import Foundation
import GRDB
import MuseCore
import MuseOpenAI
import MuseTools

public struct ConversationSummary: Codable, Sendable, Equatable {
    public var id: String
    public var title: String
    public var created: Double
    public var updated: Double
}

public struct StoredMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String
    public var reasoning: String?
    /// The agent trace of an answer, as the stream carried it.
    public var trace: [JSONValue]?
    public var mode: String?
    /// Why an answer is incomplete ("stopped", an error message), when it is.
    public var note: String?
    public var created: Double
}

public enum ConversationStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    case full(limit: Int)

    public var description: String {
        switch self {
        case .notFound(let id): "there is no conversation \(id)"
        case .full(let limit): "the conversation has \(limit) messages, the most one can hold; start a new one"
        }
    }
}

public final class ConversationStore: Sendable {
    public static let maxMessagesPerConversation = 1_000
    public static let maxTitleLength = 80
    let database: DatabaseQueue

    /// Opens (or creates) the store at `path`; nil keeps it in memory.
    public init(path: String?) throws {
        database = try SQLiteFile.open(path, migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("conversations-v1") { db in
            try db.execute(sql: """
                CREATE TABLE conversation (
                    id TEXT PRIMARY KEY,
                    title TEXT NOT NULL,
                    created REAL NOT NULL,
                    updated REAL NOT NULL);
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    conversation TEXT NOT NULL REFERENCES conversation(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    content TEXT NOT NULL,
                    reasoning TEXT,
                    trace TEXT,
                    mode TEXT,
                    note TEXT,
                    created REAL NOT NULL);
                CREATE INDEX message_by_conversation ON message(conversation, id);
                """)
        }
        return migrator
    }

    public func list() throws -> [ConversationSummary] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, title, created, updated FROM conversation ORDER BY updated DESC").map(Self.summary)
        }
    }

    public func create(title: String) throws -> ConversationSummary {
        let now = Date().timeIntervalSince1970
        let summary = ConversationSummary(id: UUID().uuidString.lowercased(), title: Self.clip(title), created: now, updated: now)
        try database.write { db in
            try db.execute(sql: "INSERT INTO conversation (id, title, created, updated) VALUES (?, ?, ?, ?)",
                           arguments: [summary.id, summary.title, now, now])
        }
        return summary
    }

    public func conversation(_ id: String) throws -> (ConversationSummary, [StoredMessage]) {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT id, title, created, updated FROM conversation WHERE id = ?", arguments: [id]) else {
                throw ConversationStoreError.notFound(id)
            }
            let messages = try Row.fetchAll(db, sql: """
                SELECT role, content, reasoning, trace, mode, note, created FROM message WHERE conversation = ? ORDER BY id
                """, arguments: [id]).map { row in
                StoredMessage(role: row["role"], content: row["content"], reasoning: row["reasoning"],
                              trace: (row["trace"] as String?).flatMap { try? JSONDecoder().decode([JSONValue].self, from: Data($0.utf8)) },
                              mode: row["mode"], note: row["note"], created: row["created"])
            }
            return (Self.summary(row), messages)
        }
    }

    /// Adds a message; the first user message names an untitled conversation.
    public func append(_ message: StoredMessage, to id: String) throws {
        let trace = message.trace.flatMap { try? WireJSON.data($0) }.map { String(decoding: $0, as: UTF8.self) }
        try database.write { db in
            guard let title = try String.fetchOne(db, sql: "SELECT title FROM conversation WHERE id = ?", arguments: [id]) else {
                throw ConversationStoreError.notFound(id)
            }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM message WHERE conversation = ?", arguments: [id]) ?? 0
            guard count < Self.maxMessagesPerConversation else { throw ConversationStoreError.full(limit: Self.maxMessagesPerConversation) }
            try db.execute(sql: """
                INSERT INTO message (conversation, role, content, reasoning, trace, mode, note, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, message.role, message.content, message.reasoning, trace, message.mode, message.note, message.created])
            let newTitle = title.isEmpty && message.role == "user" ? Self.clip(message.content) : title
            try db.execute(sql: "UPDATE conversation SET updated = ?, title = ? WHERE id = ?",
                           arguments: [message.created, newTitle, id])
        }
    }

    public func delete(_ id: String) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM message WHERE conversation = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM conversation WHERE id = ?", arguments: [id])
            guard db.changesCount > 0 else { throw ConversationStoreError.notFound(id) }
        }
    }

    private static func summary(_ row: Row) -> ConversationSummary {
        ConversationSummary(id: row["id"], title: row["title"], created: row["created"], updated: row["updated"])
    }

    private static func clip(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        return line.count > maxTitleLength ? String(line.prefix(maxTitleLength - 1)) + "…" : line
    }
}
