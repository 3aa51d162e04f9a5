// MCP servers' tools, offered to the model like the built-in ones: each server tool becomes a
// `Tool` whose calls go to its server. A server that cannot be started or reached is reported
// and left out; the others still serve.
import Foundation
import MCP
import MuseAgents
import MuseCore

/// One tool of an MCP server.
public struct MCPTool: MuseAgents.Tool {
    /// The name the model calls: the server's own name for the tool, or `<server>_<tool>` when
    /// that is taken (see `MCPToolbox`).
    public let name: String
    /// The server's name for the tool.
    public let remoteName: String
    public let description: String
    public let parametersSchema: String
    public let connection: MCPConnection
    /// The server's timeout, and a little more: the connection's own deadline, with its clearer
    /// error, comes first.
    public var timeLimit: Duration? { connection.configuration.timeout + .seconds(2) }

    public init(_ tool: MCP.Tool, name: String? = nil, connection: MCPConnection) {
        remoteName = tool.name
        self.name = name ?? tool.name
        description = tool.description ?? tool.title ?? tool.annotations.title ?? ""
        parametersSchema = Self.schemaText(tool.inputSchema)
        self.connection = connection
    }

    /// The input schema as JSON text: an object schema, whatever the server sent.
    static func schemaText(_ schema: MCP.Value) -> String {
        var object = schema.objectValue ?? [:]
        if object["type"] == nil { object["type"] = "object" }
        return JSONValue(MCP.Value.object(object)).jsonText
    }

    public func call(arguments: String) async throws -> String {
        var parsed: [String: MCP.Value] = [:]
        if !arguments.allSatisfy(\.isWhitespace) {
            guard case .object(let object)? = try? JSONValue.parse(arguments) else {
                throw ToolError.badArguments("expected a JSON object")
            }
            for (key, value) in object { parsed[key] = MCP.Value(value) }
        }
        let result: CallTool.Result
        do {
            result = try await connection.callTool(remoteName, arguments: parsed)
        } catch {
            throw ToolError.failed("MCP server \"\(connection.configuration.name)\": \(error)")
        }
        let text = Self.text(of: result)
        if result.isError == true { throw ToolError.failed(text.isEmpty ? "the tool reported an error" : text) }
        return text
    }

    /// A result's content as text: text parts as they are, other parts named.
    static func text(of result: CallTool.Result) -> String {
        var parts: [String] = []
        for part in result.content {
            switch part {
            case .text(let text, _, _): parts.append(text)
            case .image(_, let type, _, _): parts.append("[image: \(type)]")
            case .audio(_, let type, _, _): parts.append("[audio: \(type)]")
            case .resource(let resource, _, _):
                parts.append(resource.text ?? "[resource: \(resource.uri)]")
            case let .resourceLink(uri, name, _, _, _, _): parts.append("[\(name): \(uri)]")
            }
        }
        if parts.isEmpty, let structured = result.structuredContent { parts.append(JSONValue(structured).jsonText) }
        return parts.joined(separator: "\n")
    }
}

/// The connected servers and their tools.
///
/// Names: a tool keeps its server's name for it when that name is a valid function name (letters,
/// digits, `_` and `-`; other characters become `_`) and no built-in tool nor another server's
/// tool has it. Otherwise every server's tool of that name is offered as `<server>_<tool>`; a name
/// still taken after that is a failure and the tool is left out.
public final class MCPToolbox: Sendable {
    public let connections: [MCPConnection]
    public let tools: [MCPTool]
    /// Servers that could not be used, and tools left out, as sentences for a warning.
    public let failures: [String]

    private init(connections: [MCPConnection], tools: [MCPTool], failures: [String]) {
        self.connections = connections
        self.tools = tools
        self.failures = failures
    }

    /// Connects to every server at once and lists their tools; `reservedNames` are the names of
    /// the tools offered beside them.
    public static func connect(_ configuration: MCPConfiguration, reservedNames: Set<String> = []) async -> MCPToolbox {
        var outcomes = [ServerOutcome?](repeating: nil, count: configuration.servers.count)
        await withTaskGroup(of: ServerOutcome.self) { group in
            for (index, server) in configuration.servers.enumerated() {
                group.addTask { await ServerOutcome.connect(server, index: index) }
            }
            for await outcome in group { outcomes[outcome.index] = outcome }
        }
        var connections: [MCPConnection] = [], failures: [String] = []
        var offered: [(connection: MCPConnection, tools: [MCP.Tool])] = []
        for outcome in outcomes.compactMap({ $0 }) {
            if let failure = outcome.failure { failures.append(failure) }
            if let connection = outcome.connection {
                connections.append(connection)
                offered.append((connection, outcome.tools))
            }
        }
        let (tools, clashes) = name(offered, reserved: reservedNames)
        return MCPToolbox(connections: connections, tools: tools, failures: failures + clashes)
    }

    /// Ends every connection (stdio servers are stopped).
    public func close() async {
        await withTaskGroup(of: Void.self) { group in
            for connection in connections { group.addTask { await connection.close() } }
        }
    }

    static func name(_ offered: [(connection: MCPConnection, tools: [MCP.Tool])], reserved: Set<String>) -> ([MCPTool], [String]) {
        var owners: [String: Set<String>] = [:]   // tool name → servers offering it
        for (connection, tools) in offered {
            for tool in tools { owners[functionName(tool.name), default: []].insert(connection.configuration.name) }
        }
        var taken = reserved, result: [MCPTool] = [], failures: [String] = []
        for (connection, tools) in offered {
            let server = connection.configuration.name
            for tool in tools {
                let plain = functionName(tool.name)
                let shared = reserved.contains(plain) || owners[plain, default: []].count > 1
                let name = shared ? functionName("\(server)_\(tool.name)") : plain
                guard !taken.contains(name) else {
                    failures.append("MCP server \"\(server)\": tool \"\(tool.name)\" left out: the name \"\(name)\" is already taken")
                    continue
                }
                taken.insert(name)
                result.append(MCPTool(tool, name: name, connection: connection))
            }
        }
        return (result, failures)
    }

    /// `name` with every character other than a letter, digit, `_` or `-` made `_`, at most 64 long.
    static func functionName(_ name: String) -> String {
        let cleaned = String(name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || scalar == "_" || scalar == "-") ? Character(scalar) : "_"
        })
        return String((cleaned.isEmpty ? "tool" : cleaned).prefix(64))
    }
}

/// What connecting to one server came to.
private struct ServerOutcome: Sendable {
    var index: Int
    var connection: MCPConnection?
    var tools: [MCP.Tool] = []
    var failure: String?

    static func connect(_ server: MCPServerConfiguration, index: Int) async -> ServerOutcome {
        let connection: MCPConnection
        do {
            connection = try await MCPConnection.connect(server)
        } catch {
            return ServerOutcome(index: index, failure: "MCP server \"\(server.name)\": \(error)")
        }
        do {
            return ServerOutcome(index: index, connection: connection, tools: try await connection.listTools())
        } catch {
            await connection.close()
            return ServerOutcome(index: index, failure: "MCP server \"\(server.name)\": cannot list its tools: \(error)")
        }
    }
}
