// The web chat's conversations in a real SQLite file: kept across reopening, named by their first
// message, listed newest first, deleted whole, bounded.
import Foundation
import GRDB
import MuseOpenAI
import Testing
@testable import MuseServer

@Suite struct ConversationStoreTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muse-conversations-\(UUID().uuidString)")
    var path: String { folder.appendingPathComponent("conversations.sqlite").path }

    init() throws { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }

    private func message(_ role: String, _ content: String, at time: Double, note: String? = nil) -> StoredMessage {
        StoredMessage(role: role, content: content, reasoning: role == "assistant" ? "thought" : nil,
                      trace: role == "assistant" ? [["type": "agent_started", "role": "solver"]] : nil,
                      mode: role == "assistant" ? "contemplating" : nil, note: note, created: time)
    }

    @Test func conversationsSurviveReopeningWithEverythingTheyHeld() throws {
        let id: String
        do {
            let store = try ConversationStore(path: path)
            id = try store.create(title: "").id
            try store.append(message("user", "What is the capital of France?\nAnd why?", at: 1), to: id)
            try store.append(message("assistant", "Paris.", at: 2, note: "stopped"), to: id)
        }
        let reopened = try ConversationStore(path: path)
        let (summary, messages) = try reopened.conversation(id)
        #expect(summary.title == "What is the capital of France?")
        #expect(summary.updated == 2)
        #expect(messages == [message("user", "What is the capital of France?\nAnd why?", at: 1),
                             message("assistant", "Paris.", at: 2, note: "stopped")])
    }

    @Test func theNewestConversationIsListedFirst() throws {
        let store = try ConversationStore(path: path)
        let older = try store.create(title: "older"), newer = try store.create(title: "newer")
        try store.append(message("user", "hello", at: Date().timeIntervalSince1970 + 10), to: older.id)
        #expect(try store.list().map(\.id) == [older.id, newer.id])
        #expect(try store.list().map(\.title) == ["older", "newer"])
    }

    @Test func longTitlesAreClipped() throws {
        let store = try ConversationStore(path: path)
        let id = try store.create(title: "").id
        try store.append(message("user", String(repeating: "word ", count: 50), at: 1), to: id)
        let title = try store.conversation(id).0.title
        #expect(title.count == ConversationStore.maxTitleLength && title.hasSuffix("…"))
    }

    @Test func deletingRemovesTheMessagesToo() throws {
        let store = try ConversationStore(path: path)
        let id = try store.create(title: "gone").id
        try store.append(message("user", "hi", at: 1), to: id)
        try store.delete(id)
        #expect(throws: ConversationStoreError.notFound(id)) { try store.conversation(id) }
        #expect(throws: ConversationStoreError.notFound(id)) { try store.delete(id) }
        #expect(throws: ConversationStoreError.notFound(id)) { try store.append(message("user", "hi", at: 2), to: id) }
        let orphans = try store.database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM message") }
        #expect(orphans == 0)
    }

    @Test func aConversationHoldsABoundedNumberOfMessages() throws {
        let store = try ConversationStore(path: nil)
        let id = try store.create(title: "full").id
        for i in 0..<ConversationStore.maxMessagesPerConversation {
            try store.append(message(i % 2 == 0 ? "user" : "assistant", "m\(i)", at: Double(i)), to: id)
        }
        #expect(throws: ConversationStoreError.full(limit: ConversationStore.maxMessagesPerConversation)) {
            try store.append(message("user", "one more", at: 5_000), to: id)
        }
        #expect(try store.conversation(id).1.count == ConversationStore.maxMessagesPerConversation)
    }
}
