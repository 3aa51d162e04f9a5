// Everything Muse keeps of people, in one place for the three ways a person reaches it (a channel
// command, `muse memory`, the API): their conversations from the channels (`people.sqlite`) and
// the facts the assistant was asked to remember (`memory.sqlite`), both in the data directory.
import Foundation
import MuseCore
import MuseTools

public struct PersonalData: Sendable {
    public let conversations: PersonalStore
    /// Remembered facts (nil when there is no data directory: nothing is remembered then).
    public let facts: MemoryStore?
    public static let conversationsFile = "people.sqlite"
    public static let factsFile = "memory.sqlite"

    /// The stores in `directory`; nil keeps conversations in memory and no facts.
    public init(directory: URL?) throws {
        conversations = try PersonalStore(path: directory?.appendingPathComponent(Self.conversationsFile).path)
        facts = try directory.map { try MemoryStore(path: $0.appendingPathComponent(Self.factsFile).path) }
    }

    public init(conversations: PersonalStore, facts: MemoryStore?) {
        self.conversations = conversations
        self.facts = facts
    }

    /// Everyone something is kept of.
    public func people() throws -> [String] {
        var seen = Set<String>()
        return try (conversations.people() + (facts?.users() ?? [])).filter { seen.insert($0).inserted }
    }

    /// Everything kept of `person` as JSON (their conversation, mode and facts); nil when nothing is.
    public func export(_ person: String) throws -> JSONValue? {
        let remembered = try facts?.facts(user: person) ?? []
        let kept = try conversations.export(person)
        guard kept != nil || !remembered.isEmpty else { return nil }
        guard case .object(var object) = kept ?? ["person": .string(person), "messages": []] else { return kept }
        object["facts"] = .array(remembered.map { ["text": .string($0.text), "at": .string(PersonalStore.time($0.remembered.timeIntervalSince1970))] })
        return .object(object)
    }

    /// What `forget` erased.
    public struct Erased: Sendable, Equatable {
        public var conversation: Bool
        public var facts: Int
        public var nothing: Bool { !conversation && facts == 0 }
    }

    /// Erases everything of `person`, and nothing of anyone else.
    @discardableResult
    public func forget(_ person: String) throws -> Erased {
        Erased(conversation: try conversations.forget(person), facts: try facts?.forgetAll(user: person) ?? 0)
    }
}
