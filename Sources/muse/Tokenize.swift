// `muse tokenize`: the model's token ids for a text (special tokens parsed, no BOS added).
import ArgumentParser
import MuseEngine

struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the token ids of a text.")

    @Argument(help: "The text.")
    var text: String

    @Flag(help: "Print {\"tokens\": [...]}.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func run() async throws {
        let model = try modelOptions.load()
        let tokens = model.tokenize(text, parseSpecial: true)
        if json {
            try Terminal.json(["tokens": tokens])
        } else {
            for id in tokens {
                let piece = String(decoding: model.tokenizer.tokenBytes(id), as: UTF8.self)
                Terminal.write("\(id)\t\(piece.debugDescription)\n")
            }
        }
    }
}
