// `/v1/memory`: what the server keeps of the caller, who is their API key (a hash of it, never the
// key itself; without keys, on loopback, everyone is `api:local`). GET exports it, POST remembers
// a fact, DELETE erases all of it. Chat requests with `"muse": {"memory": true}` let the assistant
// remember and recall the caller's facts.
import Crypto
import Foundation
import Hummingbird
import MuseChannels
import MuseCore
import MuseOpenAI

struct MemoryRoutes: Sendable {
    let routes: Routes
    let data: PersonalData
    /// The longest fact taken.
    static let maxFactLength = 1_000

    struct NewFact: Decodable { var fact: String }

    func add(to api: RouterGroup<BasicRequestContext>) {
        api.get("memory") { request, _ in
            let person = Self.caller(of: request, keys: routes.configuration.apiKeys)
            return try Response.json(try data.export(person) ?? ["person": .string(person), "messages": [], "facts": []])
        }
        api.post("memory") { request, _ in
            let body: NewFact = try await routes.decodeBody(request)
            let fact = body.fact.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !fact.isEmpty, fact.count <= Self.maxFactLength else {
                throw APIError.invalidRequest("fact must be 1 to \(Self.maxFactLength) characters", param: "fact")
            }
            guard let facts = data.facts else { throw APIError.invalidRequest("this server keeps no memory (it has no data directory)") }
            let remembered = try facts.remember(user: Self.caller(of: request, keys: routes.configuration.apiKeys), fact: fact)
            return try Response.json(["id": .number(JSONNumber(Int(remembered.fact.id))), "text": .string(remembered.fact.text),
                                      "new": .bool(remembered.isNew)] as JSONValue)
        }
        api.delete("memory") { request, _ in
            let erased = try data.forget(Self.caller(of: request, keys: routes.configuration.apiKeys))
            routes.model.forgetCachedConversations()
            return try Response.json(["erased": ["conversation": .bool(erased.conversation),
                                                 "facts": .number(JSONNumber(erased.facts))]] as JSONValue)
        }
    }

    /// The caller as a person: `api:` and the first 16 hex digits of their key's SHA-256; on a
    /// server without keys, `api:local`.
    static func caller(of request: Request, keys: [String]) -> String {
        guard !keys.isEmpty, let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return "api:local" }
        let key = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        let digest = SHA256.hash(data: Array(key.utf8)).map { String(format: "%02x", $0) }.joined()
        return "api:" + digest.prefix(16)
    }
}
