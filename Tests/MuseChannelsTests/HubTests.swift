// The hub on a scripted model and a recording sender: each message answered once, in order per
// person, everyone apart from everyone else; commands; and what /forget leaves (nothing of theirs).
import Foundation
import GRDB
import MuseCore
import Synchronization
import Testing
@testable import MuseChannels
@testable import MuseTools

/// Answers "echo: <the last user message>", after a short random pause so that replies can overtake
/// each other if the hub lets them; a message starting "long" gets `longAnswer` characters back.
final class EchoModel: LanguageModel, Sendable {
    let name = "echo"
    let prompts = Mutex<[[ChatMessage]]>([])
    static let longAnswer = 5000

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard case .chat(let messages) = request.prompt else { return AsyncThrowingStream { $0.finish() } }
        prompts.withLock { $0.append(messages) }
        let last = messages.last { $0.role == .user }?.text ?? ""
        let text = last.hasPrefix("long") ? String(repeating: "word ", count: Self.longAnswer / 5) : "echo: \(last)"
        return AsyncThrowingStream { continuation in
            Task {
                try? await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                continuation.yield(.text(text))
                continuation.yield(.finished(.stop, Usage(promptTokens: 1, completionTokens: 1),
                                             Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 1, generatedTokens: 1)))
                continuation.finish()
            }
        }
    }
}

final class RecordingSender: ChannelSender {
    let sent = Mutex<[(to: String, text: String)]>([])
    /// Media the platform holds, by reference; others fail to download.
    let media = Mutex<[String: Data]>([:])
    func send(_ text: String, replyingTo message: Inbound) async throws {
        sent.withLock { $0.append((message.person, text)) }
    }
    func download(_ reference: String) async throws -> Data {
        guard let data = media.withLock({ $0[reference] }) else { throw SendError(platform: .whatsapp, reason: "HTTP 404 for media") }
        return data
    }
    func texts(to person: String) -> [String] { sent.withLock { $0.filter { $0.to == person }.map(\.text) } }
}

/// "Transcribes" audio whose bytes are UTF-8 text into that text, and records the calls.
final class TextRecognizer: SpeechRecognizer {
    let calls = Mutex<Int>(0)
    var languages: [String] { ["en"] }
    func transcribe(audio: Data, fileName: String, language: String?, translate: Bool) async throws -> Transcript {
        calls.withLock { $0 += 1 }
        let text = String(decoding: audio, as: UTF8.self)
        return Transcript(language: "en", duration: 1, segments: text.isEmpty ? [] : [TranscriptSegment(start: 0, end: 1, text: " " + text)])
    }
}

func text(_ body: String, from sender: String = "1", id: String, platform: Platform = .whatsapp) -> Inbound {
    Inbound(platform: platform, sender: sender, messageID: id, content: .text(body), recipient: "PNID")
}

@Suite struct HubTests {
    let model = EchoModel()
    let sender = RecordingSender()
    let store: PersonalStore
    let memory: MemoryStore
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("muse-hub-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        store = try PersonalStore(path: directory.appendingPathComponent("people.sqlite").path)
        memory = try MemoryStore(path: directory.appendingPathComponent("memory.sqlite").path)
    }

    func hub(_ settings: ChannelSettings = ChannelSettings(), speech: (any SpeechRecognizer)? = nil) -> ChannelHub {
        ChannelHub(model: model, speech: speech, data: PersonalData(conversations: store, facts: memory),
                   senders: [.whatsapp: sender, .telegram: sender], settings: settings)
    }

    /// A voice note is downloaded, transcribed and answered as typed text; the reply quotes what
    /// was heard, and the turn kept is the transcript.
    @Test func aVoiceNoteIsHeardAndAnswered() async throws {
        let speech = TextRecognizer()
        let hub = hub(speech: speech)
        sender.media.withLock { $0["media-1"] = Data("what time is it".utf8); $0["silent"] = Data() }
        let voice = { (id: String, media: String) in Inbound(platform: .whatsapp, sender: "7", messageID: id, content: .voice(media), recipient: "PNID") }
        try await hub.take([voice("v1", "media-1")])
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:7") == ["“what time is it”\n\necho: what time is it"])
        #expect(try store.history("whatsapp:7", limit: 10).map(\.text) == ["what time is it", "echo: what time is it"])
        // A note with no words, and one that cannot be downloaded: a sentence each, nothing kept.
        try await hub.take([voice("v2", "silent"), voice("v3", "gone")])
        await hub.idle()
        let replies = sender.texts(to: "whatsapp:7")
        #expect(replies.count == 3)
        #expect(replies[1].contains("could not make out any words"))
        #expect(replies[2].contains("could not listen"))
        #expect(try store.history("whatsapp:7", limit: 10).count == 2)
        #expect(speech.calls.withLock { $0 } == 2)
    }

    @Test func withoutASpeechModelAVoiceNoteGetsASentence() async throws {
        let hub = hub()
        sender.media.withLock { $0["m"] = Data("hello".utf8) }
        try await hub.take([Inbound(platform: .telegram, sender: "3", messageID: "1", content: .voice("m"), recipient: "bot")])
        await hub.idle()
        #expect(sender.texts(to: "telegram:3") == ["I cannot listen to voice notes on this server. Please write your message."])
        #expect(model.prompts.withLock { $0.isEmpty })
    }

    @Test func aMessageIsAnsweredAndItsTurnKept() async throws {
        let hub = hub()
        #expect(try await hub.take([text("hello", id: "a")]) == 1)
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:1") == ["echo: hello"])
        #expect(try store.history("whatsapp:1", limit: 10).map(\.text) == ["hello", "echo: hello"])
    }

    @Test func aRedeliveryIsAnsweredOnce() async throws {
        let hub = hub()
        let message = text("once", id: "same")
        #expect(try await hub.take([message, message]) == 1)
        #expect(try await hub.take([message]) == 0)
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:1") == ["echo: once"])
    }

    @Test func onePersonsMessagesAreAnsweredInOrderWithTheirHistory() async throws {
        let hub = hub()
        for i in 1...6 { try await hub.take([text("m\(i)", id: "id\(i)")]) }
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:1") == (1...6).map { "echo: m\($0)" })
        // The last prompt held the five turns before it, in order.
        let last = model.prompts.withLock { $0.last { $0.last?.text == "m6" } }
        #expect(last?.filter { $0.role == .user }.map(\.text) == (1...6).map { "m\($0)" })
    }

    @Test func fiftyPeopleAtOnceEachGetTheirOwnAnswer() async throws {
        let hub = hub()
        try await hub.take((0..<50).map { text("I am \($0)", from: "p\($0)", id: "x\($0)") })
        await hub.idle()
        for i in 0..<50 {
            #expect(sender.texts(to: "whatsapp:p\(i)") == ["echo: I am \(i)"])
            #expect(try store.history("whatsapp:p\(i)", limit: 10).map(\.text) == ["I am \(i)", "echo: I am \(i)"])
        }
    }

    @Test func forgetErasesEverythingOfThePersonAndNothingElse() async throws {
        let hub = hub()
        try await hub.take([text("my secret is qzxvsecret4417", from: "alice", id: "a1"), text("bob here", from: "bob", id: "b1")])
        await hub.idle()
        try memory.remember(user: "whatsapp:alice", fact: "likes qzxvtea")
        try memory.remember(user: "whatsapp:bob", fact: "likes coffee")
        try await hub.take([text("/export", from: "alice", id: "a2")])
        await hub.idle()
        let export = try #require(sender.texts(to: "whatsapp:alice").last)
        #expect(export.contains("my secret is qzxvsecret4417") && export.contains("likes qzxvtea") && !export.contains("bob"))
        try await hub.take([text("/forget", from: "alice", id: "a3")])
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:alice").last?.hasPrefix("Done: I erased everything") == true)
        #expect(try store.export("whatsapp:alice") == nil)
        #expect(try memory.facts(user: "whatsapp:alice").isEmpty)
        #expect(try store.history("whatsapp:bob", limit: 10).map(\.text) == ["bob here", "echo: bob here"])
        #expect(try memory.facts(user: "whatsapp:bob").map(\.text) == ["likes coffee"])
        // Nothing of hers is left in the files either (not in the full-text index of the facts):
        // secure_delete overwrites what is freed.
        #expect(try await store.database.read { try Int.fetchOne($0, sql: "PRAGMA secure_delete") } == 1)
        for file in ["people.sqlite", "memory.sqlite"] {
            let bytes = try Data(contentsOf: directory.appendingPathComponent(file))
            #expect(bytes.range(of: Data("qzxvsecret".utf8)) == nil && bytes.range(of: Data("qzxvtea".utf8)) == nil, "\(file)")
        }
    }

    @Test func commandsSetTheModeAndAreNotKept() async throws {
        let hub = hub()
        try await hub.take([text("/think", id: "c1")])
        await hub.idle()
        #expect(try store.mode("whatsapp:1") == "thinking")
        #expect(sender.texts(to: "whatsapp:1").first?.hasPrefix("Thinking mode") == true)
        try await hub.take([text("/what", id: "c2"), text("/contemplate@muse_bot", id: "c3"), text("/instant", id: "c4")])
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:1")[1].contains("/forget"), "an unknown command gets the list")
        #expect(try store.mode("whatsapp:1") == "instant")
        #expect(try store.history("whatsapp:1", limit: 10).isEmpty)
    }

    @Test func whatCannotBeReadGetsASentenceAndNoModel() async throws {
        let hub = hub()
        try await hub.take([Inbound(platform: .whatsapp, sender: "1", messageID: "i", content: .unsupported("image"), recipient: "PNID")])
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:1") == ["I can read text and voice notes only for now, so I cannot take in this image. Please write it out."])
        #expect(model.prompts.withLock { $0.isEmpty })
    }

    /// Many people at once past the hub's bound: the first are answered, the rest told it is busy,
    /// and none of theirs is kept; once the work is done, answers resume.
    @Test func pastTheHubsBoundPeopleAreToldItIsBusy() async throws {
        var settings = ChannelSettings()
        settings.maxPending = 3
        let hub = hub(settings)
        try await hub.take((0..<7).map { text("hi \($0)", from: "p\($0)", id: "b\($0)") })
        await hub.idle()
        let replies = (0..<7).map { sender.texts(to: "whatsapp:p\($0)") }
        #expect(replies.prefix(3).map(\.first) == ["echo: hi 0", "echo: hi 1", "echo: hi 2"])
        #expect(replies.dropFirst(3).allSatisfy { $0.count == 1 && $0[0].contains("too many messages") })
        #expect(try store.history("whatsapp:p5", limit: 10).isEmpty)
        try await hub.take([text("again", from: "p5", id: "b7")])
        await hub.idle()
        #expect(sender.texts(to: "whatsapp:p5").last == "echo: again")
    }

    @Test func aBurstPastTheLimitGetsOneNotice() async throws {
        let hub = hub(ChannelSettings(messagesPerMinute: 3))
        try await hub.take((1...6).map { text("n\($0)", id: "r\($0)") })
        await hub.idle()
        let texts = sender.texts(to: "whatsapp:1")
        #expect(Array(texts.prefix(3)) == ["echo: n1", "echo: n2", "echo: n3"])
        #expect(texts.count == 4 && texts[3].contains("faster than I can answer"))
    }

    @Test func aLongReplyIsSplitAtThePlatformsLimit() async throws {
        let hub = hub()
        try await hub.take([text("long please", id: "l")])
        await hub.idle()
        let parts = sender.texts(to: "whatsapp:1")
        #expect(parts.count == 2 && parts.allSatisfy { $0.utf16.count <= Platform.whatsapp.messageLimit })
        #expect(parts.joined(separator: " ").split(separator: " ").count == EchoModel.longAnswer / 5)
    }
}

@Suite struct StoreAndSplitterTests {
    @Test func oldTurnsExpireAndRecentOnesStay() throws {
        let clock = Mutex(Date(timeIntervalSince1970: 1_000_000))
        let store = try PersonalStore(path: nil) { clock.withLock { $0 } }
        _ = try store.claim(text("old", from: "a", id: "1"))
        try store.append("whatsapp:a", role: .user, content: "old")
        clock.withLock { $0 += 10 * 86_400 }
        _ = try store.claim(text("new", from: "b", id: "2"))
        try store.append("whatsapp:b", role: .user, content: "new")
        #expect(try store.expire(olderThan: 7 * 86_400) == 1)
        #expect(try store.people() == ["whatsapp:b"], "a person with nothing left who has not written goes too")
        #expect(try store.history("whatsapp:b", limit: 5).map(\.text) == ["new"])
        // Message ids older than the redelivery window are let go.
        #expect(try store.claim(text("old", from: "a", id: "1")))
    }

    @Test(arguments: [2, 3, 7, 10, 64, 4096])
    func splitPartsFitAndKeepEveryWord(limit: Int) {
        let text = "First paragraph here.\n\nSecond one, a little longer, with commas. And sentences! 🇫🇷 flags and 👩‍👩‍👧‍👦 families too.\nLast line"
        let parts = ReplySplitter.split(text, limit: limit)
        for part in parts where part.count > 1 { #expect(part.utf16.count <= limit, "\(part)") }
        #expect(parts.joined().filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace })
        #expect(ReplySplitter.split("  ", limit: limit).isEmpty)
    }

    @Test func splitsPreferParagraphsThenSentences() {
        #expect(ReplySplitter.split("aaaa bbbb.\n\ncccc dddd.", limit: 16) == ["aaaa bbbb.", "cccc dddd."])
        #expect(ReplySplitter.split("One two. Three four five.", limit: 12) == ["One two.", "Three four", "five."])
    }
}
