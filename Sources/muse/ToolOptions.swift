// `--tools` and friends: which tools the assistant may call and how.
import ArgumentParser
import Foundation
import MuseAgents
import MuseChannels
import MuseCore
import MuseTools

struct ToolOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Tools the assistant may call, comma-separated: \(ToolOptions.builtIns.joined(separator: ", ")).", valueName: "names"))
    var tools: String?

    @Option(name: .customLong("tool-choice"), help: "auto (the model decides), required (it must call one first), none, or a tool's name.")
    var toolChoice = ToolChoice.auto

    @Option(name: .customLong("tool-format"), help: "How calls are written (default: the model's chat template's own when it renders tools, else hermes).")
    var toolFormat: ToolCallFormat?

    @Option(name: .customLong("max-tool-steps"), help: "Rounds of calls and results before the answer (default 3).")
    var maxToolSteps = 3

    @Option(help: ArgumentHelp("search_documents: the folder to index and search (indexed again incrementally on each run).", valueName: "folder"))
    var documents: String?

    @Option(help: "remember/recall: whose facts (default: the login name).")
    var user: String?

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("fetch_url: a host it may fetch from (repeatable; *.example.com for subdomains). fetch_url is off without one.", valueName: "host"))
    var allowHosts: [String] = []

    @Option(name: .customLong("data-dir"), help: "Where document indexes and remembered facts are kept (default ~/.local/share/muse).")
    var dataDirectory: String?

    @Option(help: ArgumentHelp("A JSON file of MCP servers whose tools the assistant may call too (with or without --tools).", valueName: "file"))
    var mcp: String?

    static let builtIns = ["calculator", "datetime", "units", "search_documents", "remember", "recall", "fetch_url", "spawn_agents"]

    func validate() throws {
        guard (1...16).contains(maxToolSteps) else { throw ValidationError("--max-tool-steps must be between 1 and 16") }
    }

    /// The servers of the --mcp file, connected, with their tools; nil without --mcp. Servers that
    /// cannot be used are warned about and left out. Close the toolbox when the run ends. With
    /// `trace`, each server's tools are listed (on standard error).
    func connectMCP(trace: Bool = false) async throws -> MCPToolbox? {
        guard let mcp else { return nil }
        let configuration: MCPConfiguration
        do {
            configuration = try MCPConfiguration(contentsOfFile: mcp)
        } catch {
            throw ValidationError("--mcp \(error)")
        }
        let toolbox = await MCPToolbox.connect(configuration, reservedNames: Set(Self.builtIns))
        for failure in toolbox.failures { Terminal.status("warning: \(failure)") }
        if trace {
            for connection in toolbox.connections {
                let names = toolbox.tools.filter { $0.connection === connection }.map(\.name)
                Terminal.status("[mcp] \(connection.configuration.name) (\(await connection.serverInfo)): \(names.joined(separator: ", "))")
            }
        }
        return toolbox
    }

    /// The settings, or nil when no tool was asked for. `spawn` makes the spawn_agents tool (it
    /// needs the assistant whose model runs the sub-agents); the tools of `mcp` come after the
    /// built-in ones.
    func settings(mcp: MCPToolbox? = nil, spawn: () -> any Tool) throws -> ToolSettings? {
        guard tools?.isEmpty == false || mcp != nil else { return nil }
        var chosen: [any Tool] = []
        for name in (tools ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            switch name {
            case "calculator": chosen.append(Calculator())
            case "datetime": chosen.append(DateTimeTool())
            case "units": chosen.append(UnitsTool())
            case "spawn_agents": chosen.append(spawn())
            case "search_documents": chosen.append(try searchTool())
            case "remember": chosen.append(RememberTool(store: try memory(), user: userName))
            case "recall": chosen.append(RecallTool(store: try memory(), user: userName))
            case "fetch_url":
                guard !allowHosts.isEmpty else { throw ValidationError("fetch_url needs at least one --allow-host") }
                chosen.append(FetchURLTool(allowedHosts: allowHosts))
            default: throw ValidationError("--tools: unknown tool \"\(name)\"; the tools are \(Self.builtIns.joined(separator: ", "))")
            }
        }
        chosen += mcp?.tools ?? []
        let choice = toolChoice
        if case .function(let name) = choice, !chosen.contains(where: { $0.name == name }) {
            throw ValidationError("--tool-choice \(name): no such tool among --tools and the --mcp servers' tools")
        }
        // --mcp alone, and none of its servers could be used: no tools, as without the option.
        if chosen.isEmpty { return nil }
        return ToolSettings(tools: chosen, choice: choice, format: toolFormat ?? .hermes,
                            maxSteps: maxToolSteps, useModelTemplate: toolFormat == nil)
    }

    private var userName: String {
        user ?? ProcessInfo.processInfo.environment["USER"] ?? "local"
    }

    private func memory() throws -> MemoryStore {
        try MemoryStore(path: DataDirectory.resolve(dataDirectory).appendingPathComponent(PersonalData.factsFile).path)
    }

    /// The documents folder indexed (only what changed since the last run), then searchable.
    private func searchTool() throws -> SearchDocumentsTool {
        guard let documents else { throw ValidationError("search_documents needs --documents FOLDER") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: documents, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--documents: \(documents) is not a folder")
        }
        let index = try DocumentIndex(path: DataDirectory.resolve(dataDirectory).appendingPathComponent("documents.sqlite").path)
        Terminal.status("indexing \(documents)…")
        let summary = try index.index(folder: URL(fileURLWithPath: documents))
        Terminal.status("\(summary)")
        return SearchDocumentsTool(index: index)
    }
}

extension ToolChoice: ExpressibleByArgument {
    public init?(argument: String) {
        guard !argument.isEmpty else { return nil }
        self.init(argument)
    }
}

extension ToolCallFormat: ExpressibleByArgument {}

extension Mode.Kind: ExpressibleByArgument {}
