// Long-term memory: short facts a user asked the assistant to keep, stored per user in a SQLite
// file with a full-text index, so that the recall tool finds the relevant ones. The user owns them:
// they can list and delete them, and no user's facts are ever returned for another.
import Foundation
import GRDB
import MuseAgents
import MuseCore

/// A remembered fact.
public struct Fact: Sendable, Equatable, Identifiable {
    public let id: Int64
    public let text: String
    public let remembered: Date
}

public enum MemoryStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyFact
    case factTooLong(limit: Int)
    case tooManyFacts(limit: Int)

    public var description: String {
        switch self {
        case .emptyFact: "the fact is empty"
        case .factTooLong(let limit): "the fact is longer than \(limit) characters; keep it to one short statement"
        case .tooManyFacts(let limit): "this user already has \(limit) facts; forget some first"
        }
    }
}

public final class MemoryStore: Sendable {
    /// A fact is a statement, not a document; the bound also keeps recall output short.
    public static let maxFactLength = 1_000
    /// So that a model calling remember in a loop cannot fill the disk.
    public static let maxFactsPerUser = 10_000

    let database: DatabaseQueue
    /// The clock, injected so that recency is deterministic under test.
    let now: @Sendable () -> Date

    /// Opens (or creates) the store at `path`.
    public init(path: String, now: @escaping @Sendable () -> Date = Date.init) throws {
        database = try SQLiteFile.open(path, migrator: Self.migrator)
        self.now = now
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("memory-v1") { db in
            try db.execute(sql: """
                CREATE TABLE fact (
                    id INTEGER PRIMARY KEY,
                    user TEXT NOT NULL,
                    text TEXT NOT NULL,
                    -- The text folded for comparison: a fact said twice is stored once.
                    key TEXT NOT NULL,
                    remembered REAL NOT NULL,
                    UNIQUE (user, key));
                CREATE INDEX fact_recent ON fact(user, remembered);
                CREATE VIRTUAL TABLE fact_fts USING fts5(
                    text, content = 'fact', content_rowid = 'id',
                    tokenize = 'porter unicode61 remove_diacritics 2');
                CREATE TRIGGER fact_inserted AFTER INSERT ON fact BEGIN
                    INSERT INTO fact_fts(rowid, text) VALUES (new.id, new.text);
                END;
                CREATE TRIGGER fact_deleted AFTER DELETE ON fact BEGIN
                    INSERT INTO fact_fts(fact_fts, rowid, text) VALUES ('delete', old.id, old.text);
                END;
                """)
        }
        return migrator
    }

    /// The outcome of `remember`: the stored fact, and whether it was new.
    public struct Remembered: Sendable, Equatable {
        public let fact: Fact
        public let isNew: Bool
    }

    /// Stores `fact` for `user`, whitespace tidied. A fact equal to one already stored (ignoring
    /// case and spacing) is not stored again; the existing one is returned.
    @discardableResult
    public func remember(user: String, fact: String) throws -> Remembered {
        let text = FTSQuery.oneLine(fact)
        guard !text.isEmpty else { throw MemoryStoreError.emptyFact }
        guard text.count <= Self.maxFactLength else { throw MemoryStoreError.factTooLong(limit: Self.maxFactLength) }
        let key = text.lowercased()
        let date = now()
        return try database.write { db in
            if let row = try Row.fetchOne(db, sql: "SELECT id, text, remembered FROM fact WHERE user = ? AND key = ?",
                                          arguments: [user, key]) {
                return Remembered(fact: Self.fact(row), isNew: false)
            }
            let count = try Int.fetchOne(db, sql: "SELECT count(*) FROM fact WHERE user = ?", arguments: [user]) ?? 0
            guard count < Self.maxFactsPerUser else { throw MemoryStoreError.tooManyFacts(limit: Self.maxFactsPerUser) }
            try db.execute(sql: "INSERT INTO fact (user, text, key, remembered) VALUES (?, ?, ?, ?)",
                           arguments: [user, text, key, date.timeIntervalSince1970])
            return Remembered(fact: Fact(id: db.lastInsertedRowID, text: text, remembered: date), isNew: true)
        }
    }

    /// The user's facts that best match `query` (any of its words, best BM25 score first); when
    /// the query is empty or nothing matches, the most recent facts instead.
    public func recall(user: String, query: String, limit: Int = 10) throws -> [Fact] {
        let matches = try search(user: user, query: query, limit: limit)
        return matches.isEmpty ? try recent(user: user, limit: limit) : matches
    }

    /// The user's facts that match `query`, best first; empty when none do.
    func search(user: String, query: String, limit: Int) throws -> [Fact] {
        guard let match = FTSQuery.anyTerm(query), limit > 0 else { return [] }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT fact.id, fact.text, fact.remembered
                FROM fact_fts JOIN fact ON fact.id = fact_fts.rowid
                WHERE fact_fts MATCH ? AND fact.user = ?
                ORDER BY bm25(fact_fts), fact.id DESC
                LIMIT ?
                """, arguments: [match, user, limit]).map(Self.fact)
        }
    }

    /// The user's most recently remembered facts, newest first.
    func recent(user: String, limit: Int) throws -> [Fact] {
        guard limit > 0 else { return [] }
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, text, remembered FROM fact WHERE user = ?
                ORDER BY remembered DESC, id DESC LIMIT ?
                """, arguments: [user, limit]).map(Self.fact)
        }
    }

    /// All of the user's facts, oldest first.
    public func facts(user: String) throws -> [Fact] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, text, remembered FROM fact WHERE user = ? ORDER BY remembered, id",
                             arguments: [user]).map(Self.fact)
        }
    }

    /// Everyone with a remembered fact.
    public func users() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT user FROM fact ORDER BY user") }
    }

    /// Deletes one of the user's facts; false when the user has no fact with that id.
    @discardableResult
    public func forget(user: String, id: Int64) throws -> Bool {
        try database.write { db in
            try db.execute(sql: "DELETE FROM fact WHERE id = ? AND user = ?", arguments: [id, user])
            let erased = db.changesCount > 0
            if erased { try Self.mergeIndex(db) }
            return erased
        }
    }

    /// Deletes all of the user's facts and returns how many there were.
    @discardableResult
    public func forgetAll(user: String) throws -> Int {
        try database.write { db in
            try db.execute(sql: "DELETE FROM fact WHERE user = ?", arguments: [user])
            let count = db.changesCount
            if count > 0 { try Self.mergeIndex(db) }
            return count
        }
    }

    /// The full-text index keeps a deleted fact's words in its segments until they merge: merging
    /// them all leaves none behind (and secure_delete overwrites the pages they leave).
    private static func mergeIndex(_ db: Database) throws {
        try db.execute(sql: "INSERT INTO fact_fts(fact_fts) VALUES ('optimize')")
    }

    private static func fact(_ row: Row) -> Fact {
        Fact(id: row["id"], text: row["text"], remembered: Date(timeIntervalSince1970: row["remembered"]))
    }
}
