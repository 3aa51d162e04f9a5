// `muse models`: what is in the model store, and fetching the known models.
import ArgumentParser
import MuseEngine

struct Models: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and fetch models.", subcommands: [List.self, Fetch.self], defaultSubcommand: List.self)

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the models in the store.")

        @Flag(help: "Print a JSON list of {name, path, size} ({name} for a server's models).")
        var json = false

        @OptionGroup var backendOptions: BackendOptions

        func run() async throws {
            if backendOptions.backend == .openai {
                let names = try await backendOptions.remoteModels()
                if json { return try Terminal.json(names.map { ["name": $0] }) }
                for name in names { Terminal.write(name + "\n") }
                return
            }
            let store = ModelStore()
            let models = store.list()
            if json { return try Terminal.json(models) }
            if models.isEmpty {
                Terminal.status("No models in \(store.modelsFolder.path) yet; `muse models fetch` gets \(KnownModel.default.name).")
            }
            for model in models {
                Terminal.write("\(model.name)\t\(model.size / 1_000_000) MB\t\(model.path)\n")
            }
        }
    }

    struct Fetch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Download a known model into the store.")

        @Argument(help: "Known models: \(KnownModel.all.map(\.name).joined(separator: ", ")).")
        var name: String = KnownModel.default.name

        @Flag(help: "Download again even if present.")
        var force = false

        func run() async throws {
            guard let model = KnownModel.all.first(where: { $0.name == name }) else {
                throw ValidationError("unknown model '\(name)'; known: \(KnownModel.all.map(\.name).joined(separator: ", "))")
            }
            let url = try ModelStore().fetch(model, force: force) { Terminal.status($0) }
            Terminal.write(url.path + "\n")
        }
    }
}
