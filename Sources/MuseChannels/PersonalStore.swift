// What Muse keeps of the people who write to it through the channels: their conversation, the
// mode they chose, and the ids of the messages already taken (so that a redelivery is answered
// once). A person exists here from their first message; everything of theirs is erased at once
// by `forget`, and old conversation expires by `expire`.
import Foundation
import GRDB
import MuseCore
import MuseTools

public final class PersonalStore: Sendable {
    let database: DatabaseQueue
    let now: @Sendable () -> Date
    /// How long message ids are kept to recognise redeliveries (Meta retries for up to a day and a half).
    public static let deliveryMemory: TimeInterval = 3 * 86_400

    /// Opens (or creates) the store at `path`; nil keeps it in memory.
    public init(path: String?, now: @escaping @Sendable () -> Date = Date.init) throws {
        database = try SQLiteFile.open(path, migrator: Self.migrator)
        self.now = now
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("people-v1") { db in
            try db.execute(sql: """
                CREATE TABLE person (
                    id TEXT PRIMARY KEY,
                    mode TEXT NOT NULL DEFAULT 'instant',
                    first_seen REAL NOT NULL,
                    last_seen REAL NOT NULL);
                CREATE TABLE message (
                    id INTEGER PRIMARY KEY,
                    person TEXT NOT NULL REFERENCES person(id) ON DELETE CASCADE,
                    role TEXT NOT NULL,
                    content TEXT NOT NULL,
                    created REAL NOT NULL);
                CREATE INDEX message_person ON message(person, id);
                CREATE TABLE delivery (
                    platform TEXT NOT NULL,
                    message_id TEXT NOT NULL,
                    person TEXT NOT NULL REFERENCES person(id) ON DELETE CASCADE,
                    received REAL NOT NULL,
                    PRIMARY KEY (platform, message_id));
                CREATE INDEX delivery_person ON delivery(person);
                """)
        }
        return migrator
    }

    /// Records that `message` was taken; false when it was already (a redelivery).
    public func claim(_ message: Inbound) throws -> Bool {
        let time = now().timeIntervalSince1970
        return try database.write { db in
            try db.execute(sql: """
                INSERT INTO person (id, first_seen, last_seen) VALUES (?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen
                """, arguments: [message.person, time, time])
            try db.execute(sql: "INSERT OR IGNORE INTO delivery (platform, message_id, person, received) VALUES (?, ?, ?, ?)",
                           arguments: [message.platform.rawValue, message.messageID, message.person, time])
            return db.changesCount > 0
        }
    }

    /// The person's last `limit` messages, oldest first.
    public func history(_ person: String, limit: Int) throws -> [ChatMessage] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT role, content FROM message WHERE person = ? ORDER BY id DESC LIMIT ?",
                             arguments: [person, limit])
                .reversed()
                .map { ChatMessage(role: ChatRole(rawValue: $0["role"]) ?? .user, content: [.text($0["content"])]) }
        }
    }

    /// Adds a turn to the person's conversation (they must have written first).
    public func append(_ person: String, role: ChatRole, content: String) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO message (person, role, content, created) VALUES (?, ?, ?, ?)",
                           arguments: [person, role.rawValue, content, now().timeIntervalSince1970])
        }
    }

    public func mode(_ person: String) throws -> String {
        try database.read { db in
            try String.fetchOne(db, sql: "SELECT mode FROM person WHERE id = ?", arguments: [person]) ?? "instant"
        }
    }

    public func setMode(_ person: String, _ mode: String) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE person SET mode = ? WHERE id = ?", arguments: [mode, person])
        }
    }

    /// Everyone the store knows, by when they last wrote (most recent first).
    public func people() throws -> [String] {
        try database.read { db in try String.fetchAll(db, sql: "SELECT id FROM person ORDER BY last_seen DESC, id") }
    }

    /// Everything kept of the person, as JSON: nil when there is nothing.
    public func export(_ person: String) throws -> JSONValue? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT mode, first_seen, last_seen FROM person WHERE id = ?",
                                             arguments: [person]) else { return nil }
            let messages = try Row.fetchAll(db, sql: "SELECT role, content, created FROM message WHERE person = ? ORDER BY id",
                                            arguments: [person]).map { message -> JSONValue in
                ["role": .string(message["role"]), "content": .string(message["content"]), "at": .string(Self.time(message["created"]))]
            }
            return ["person": .string(person), "mode": .string(row["mode"]), "first_seen": .string(Self.time(row["first_seen"])),
                    "last_seen": .string(Self.time(row["last_seen"])), "messages": .array(messages)]
        }
    }

    /// Erases the person: their conversation, mode and message ids. True when there was anything.
    @discardableResult
    public func forget(_ person: String) throws -> Bool {
        let erased = try database.write { db in
            try db.execute(sql: "DELETE FROM person WHERE id = ?", arguments: [person])
            return db.changesCount > 0
        }
        return erased
    }

    /// Deletes conversation turns older than `age`, message ids older than `deliveryMemory`, and
    /// people with nothing left who have not written for `age`. Returns the turns deleted.
    @discardableResult
    public func expire(olderThan age: TimeInterval) throws -> Int {
        let time = now().timeIntervalSince1970
        return try database.write { db in
            try db.execute(sql: "DELETE FROM message WHERE created < ?", arguments: [time - age])
            let turns = db.changesCount
            try db.execute(sql: "DELETE FROM delivery WHERE received < ?", arguments: [time - Self.deliveryMemory])
            try db.execute(sql: """
                DELETE FROM person WHERE last_seen < ?
                AND NOT EXISTS (SELECT 1 FROM message WHERE message.person = person.id)
                """, arguments: [time - age])
            return turns
        }
    }

    static func time(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).formatted(.iso8601)
    }
}
