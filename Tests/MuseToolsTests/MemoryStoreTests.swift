// Long-term memory on a real SQLite file: users kept apart, facts stored once, recall ranked by
// relevance with a fallback to recent facts, and forgetting that really removes.
import Foundation
import MuseAgents
import Synchronization
import Testing
@testable import MuseTools

/// A clock that moves one minute forward at every reading, so "most recent" is well defined.
final class SteppingClock: Sendable {
    private let minutes = Atomic<Int>(0)

    func now() -> Date {
        let minute = minutes.add(1, ordering: .relaxed).newValue
        return Date(timeIntervalSince1970: 1_750_000_000 + Double(minute) * 60)
    }
}

/// A store in a temporary folder, removed when the test ends.
final class MemoryFixture {
    let base: URL
    let path: String
    let store: MemoryStore

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("muse-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.appendingPathComponent("memory.sqlite").path
        let clock = SteppingClock()
        store = try MemoryStore(path: path, now: { clock.now() })
    }

    deinit { try? FileManager.default.removeItem(at: base) }
}

@Suite struct MemoryStoreTests {
    @Test func usersNeverSeeEachOthersFacts() throws {
        let memory = try MemoryFixture()
        let store = memory.store
        let secret = try store.remember(user: "alice", fact: "Alice's locker code is 4417").fact
        try store.remember(user: "bob", fact: "Bob is allergic to peanuts")

        #expect(try store.facts(user: "alice").map(\.text) == ["Alice's locker code is 4417"])
        #expect(try store.facts(user: "bob").map(\.text) == ["Bob is allergic to peanuts"])
        #expect(try store.recall(user: "bob", query: "locker code 4417", limit: 10).map(\.text) == ["Bob is allergic to peanuts"])
        #expect(try store.recall(user: "carol", query: "", limit: 10).isEmpty)
        // Bob cannot delete Alice's fact by guessing its id, nor all of hers with his own.
        #expect(try store.forget(user: "bob", id: secret.id) == false)
        #expect(try store.forgetAll(user: "bob") == 1)
        #expect(try store.facts(user: "alice").count == 1)
    }

    @Test func identicalFactsAreStoredOnce() throws {
        let memory = try MemoryFixture()
        let first = try memory.store.remember(user: "alice", fact: "Prefers tea to coffee")
        let again = try memory.store.remember(user: "alice", fact: "  prefers TEA\nto   coffee ")
        #expect(first.isNew)
        #expect(!again.isNew)
        #expect(again.fact == first.fact)
        #expect(try memory.store.facts(user: "alice").map(\.text) == ["Prefers tea to coffee"])
        // The same words for another user are that user's own fact.
        #expect(try memory.store.remember(user: "bob", fact: "Prefers tea to coffee").isNew)
    }

    @Test func recallRanksByRelevance() throws {
        let memory = try MemoryFixture()
        let store = memory.store
        for fact in ["Alice's daughter is called Ana", "Alice likes green tea", "Alice works at the harbour office",
                     "Alice's daughter Ana plays the cello", "Alice drives a blue van"] {
            try store.remember(user: "alice", fact: fact)
        }
        let cello = try store.recall(user: "alice", query: "what instrument does my daughter play? cello", limit: 3)
        #expect(cello.first?.text == "Alice's daughter Ana plays the cello")
        #expect(cello.map(\.text).contains("Alice's daughter is called Ana"))
        #expect(try store.recall(user: "alice", query: "tea", limit: 3).map(\.text) == ["Alice likes green tea"])
        // Stemming: "driving" finds "drives".
        #expect(try store.recall(user: "alice", query: "driving", limit: 1).first?.text == "Alice drives a blue van")
    }

    @Test(arguments: ["", "   ", "zeppelin", "\"*\" NEAR( AND"])
    func recallFallsBackToTheMostRecent(query: String) throws {
        let memory = try MemoryFixture()
        for fact in ["First fact", "Second fact", "Third fact"] { try memory.store.remember(user: "alice", fact: fact) }
        #expect(try memory.store.recall(user: "alice", query: query, limit: 2).map(\.text) == ["Third fact", "Second fact"])
    }

    @Test func forgettingRemovesFromRecallToo() throws {
        let memory = try MemoryFixture()
        let store = memory.store
        let parking = try store.remember(user: "alice", fact: "Parked on level 3, bay 42").fact
        try store.remember(user: "alice", fact: "Dentist on Friday at 9")
        #expect(try store.forget(user: "alice", id: parking.id))
        #expect(try store.forget(user: "alice", id: parking.id) == false)
        #expect(try store.recall(user: "alice", query: "parked bay", limit: 5).map(\.text) == ["Dentist on Friday at 9"])
        // Remembering it again is a new fact, not a duplicate of the forgotten one.
        #expect(try store.remember(user: "alice", fact: "Parked on level 3, bay 42").isNew)
        #expect(try store.forgetAll(user: "alice") == 2)
        #expect(try store.facts(user: "alice").isEmpty)
        #expect(try store.recall(user: "alice", query: "dentist", limit: 5).isEmpty)
    }

    @Test func factsPersistAcrossReopening() throws {
        let memory = try MemoryFixture()
        try memory.store.remember(user: "alice", fact: "Birthday is on 12 May")
        let reopened = try MemoryStore(path: memory.path)
        #expect(try reopened.recall(user: "alice", query: "birthday", limit: 5).map(\.text) == ["Birthday is on 12 May"])
    }

    @Test func emptyAndOverlongFactsAreRefused() throws {
        let memory = try MemoryFixture()
        #expect(throws: MemoryStoreError.emptyFact) { try memory.store.remember(user: "alice", fact: " \n ") }
        #expect(throws: MemoryStoreError.factTooLong(limit: MemoryStore.maxFactLength)) {
            try memory.store.remember(user: "alice", fact: String(repeating: "a", count: MemoryStore.maxFactLength + 1))
        }
    }

    // MARK: The tools

    @Test func toolsRememberAndRecallForTheirUserOnly() async throws {
        let memory = try MemoryFixture()
        let remember = RememberTool(store: memory.store, user: "alice")
        #expect(try await remember.call(arguments: #"{"fact": "Alice's cat is called Miso"}"#) == "Remembered: Alice's cat is called Miso")
        #expect(try await remember.call(arguments: #"{"fact": "alice's cat is called miso"}"#) == "Already remembered: Alice's cat is called Miso")

        let recall = try await RecallTool(store: memory.store, user: "alice").call(arguments: #"{"query": "cat name"}"#)
        #expect(recall.hasPrefix("- Alice's cat is called Miso (saved 2025-"))
        let other = try await RecallTool(store: memory.store, user: "bob").call(arguments: #"{"query": "cat name"}"#)
        #expect(other == "No facts are saved for this user.")
        let fallback = try await RecallTool(store: memory.store, user: "alice").call(arguments: #"{"query": "zeppelin"}"#)
        #expect(fallback.hasPrefix("No saved fact matches; the most recent ones:\n- Alice's cat is called Miso"))

        await #expect(throws: ToolError.self) { try await remember.call(arguments: #"{"fact": ""}"#) }
        await #expect(throws: ToolError.self) { try await remember.call(arguments: #"{"text": "x"}"#) }
    }
}
