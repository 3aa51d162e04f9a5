// `muse memory`: what Muse keeps of a person — their conversations through the messaging channels
// and the facts it was asked to remember — listed, exported as JSON, or erased.
import ArgumentParser
import Foundation
import MuseChannels
import MuseCore

struct Memory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "See, export or erase what Muse keeps of a person.",
        subcommands: [List.self, Export.self, Forget.self])

    struct Where: ParsableArguments {
        @Option(name: .customLong("data-dir"), help: "Where Muse keeps its data (default ~/.local/share/muse).")
        var dataDirectory: String?

        func data() throws -> PersonalData { try PersonalData(directory: try DataDirectory.resolve(dataDirectory)) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Everyone something is kept of, or with --user what is kept of one person.")

        @Option(help: "A person, as the channels name them (whatsapp:16505551234, telegram:42) or as --user named them.")
        var user: String?
        @OptionGroup var place: Where

        func run() async throws {
            let data = try place.data()
            guard let user else {
                for person in try data.people() { print(person) }
                return
            }
            guard case .object(let kept)? = try data.export(user) else {
                Terminal.status("nothing is kept of \(user)")
                return
            }
            if case .array(let messages)? = kept["messages"] { print("\(messages.count) conversation turns") }
            if case .string(let mode)? = kept["mode"] { print("mode: \(mode)") }
            if case .array(let facts)? = kept["facts"] {
                print("\(facts.count) remembered facts")
                for fact in facts { if case .string(let text)? = fact["text"] { print("- \(text)") } }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Everything kept of a person, as JSON on standard output.")

        @Option(help: "The person.")
        var user: String
        @OptionGroup var place: Where

        func run() async throws {
            guard let kept = try place.data().export(user) else { throw ValidationError("nothing is kept of \(user)") }
            print(kept.jsonText)
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Erase everything kept of a person (and nothing of anyone else).")

        @Option(help: "The person.")
        var user: String
        @OptionGroup var place: Where

        func run() async throws {
            let erased = try place.data().forget(user)
            if erased.nothing {
                Terminal.status("nothing was kept of \(user)")
            } else {
                Terminal.status("erased \(user): " + (erased.conversation ? "their conversation" : "no conversation")
                                + ", \(erased.facts) remembered facts")
            }
        }
    }
}
