// The `muse` command: the engine and, later, the assistant, from a terminal.
import ArgumentParser

@main
struct Muse: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muse",
        abstract: "A self-hosted reasoning assistant with its own CPU inference engine.",
        subcommands: [Ask.self, Chat.self, Serve.self, Complete.self, Tokenize.self, Bench.self, Perplexity.self, Eval.self, Models.self, Memory.self, Transcribe.self]
    )
}
