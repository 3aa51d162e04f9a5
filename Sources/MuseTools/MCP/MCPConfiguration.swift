// Which MCP servers to use, read from a JSON file in the layout other MCP clients use:
//
//     {"servers": {
//         "files": {"command": "mcp-files", "args": ["--root", "/srv"], "env": {"LOG": "0"}},
//         "search": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer …"},
//                    "timeout_seconds": 60}}}
//
// (`mcpServers` may stand for `servers`). A server has a `command` (run over stdio) or a `url`
// (Streamable HTTP), not both. Keys this file does not know are ignored, so files written for
// other clients load too.
import Foundation
import MuseAgents
import MuseCore

public struct MCPServerConfiguration: Sendable, Equatable {
    public enum Endpoint: Sendable, Equatable {
        /// A program started for the run, speaking MCP on its standard input and output.
        case stdio(command: String, arguments: [String], environment: [String: String])
        /// A Streamable HTTP endpoint; `headers` go with every request.
        case http(url: URL, headers: [String: String])
    }

    public var name: String
    public var endpoint: Endpoint
    /// How long starting the server, or one request to it, may take.
    public var timeout: Duration

    public init(name: String, endpoint: Endpoint, timeout: Duration = MCPConfiguration.defaultTimeout) {
        self.name = name
        self.endpoint = endpoint
        self.timeout = timeout
    }
}

public struct MCPConfiguration: Sendable, Equatable {
    /// The servers, ordered by name.
    public var servers: [MCPServerConfiguration]

    public static let defaultTimeout: Duration = .seconds(30)

    public init(servers: [MCPServerConfiguration]) {
        self.servers = servers.sorted { $0.name < $1.name }
    }

    /// The configuration in the file at `path`.
    public init(contentsOfFile path: String) throws(MCPConfigurationError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw MCPConfigurationError(source: path, message: "cannot be read (\(error.localizedDescription))")
        }
        try self.init(json: data, source: path)
    }

    /// The configuration in `json`; `source` names it in errors.
    public init(json: Data, source: String = "the MCP configuration") throws(MCPConfigurationError) {
        func fail(_ message: String) -> MCPConfigurationError { MCPConfigurationError(source: source, message: message) }
        guard let parsed = try? JSONValue.parse([UInt8](json)) else { throw fail("is not valid JSON") }
        guard case .object(let top) = parsed else { throw fail("must be a JSON object with a \"servers\" object") }
        guard let table = top["servers"] ?? top["mcpServers"] else {
            throw fail("has no \"servers\" (or \"mcpServers\") object")
        }
        guard case .object(let entries) = table else {
            throw fail("\"servers\" must be an object of server name → settings")
        }
        var servers: [MCPServerConfiguration] = []
        for (name, entry) in entries {
            do {
                servers.append(try Self.server(named: name, entry))
            } catch {
                throw fail("server \"\(name)\": \(error.message)")
            }
        }
        self.init(servers: servers)
    }

    private struct Problem: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    private static func server(named name: String, _ entry: JSONValue) throws(Problem) -> MCPServerConfiguration {
        guard !name.isEmpty else { throw Problem("a server needs a name") }
        guard case .object(let settings) = entry else { throw Problem("must be an object") }

        func strings(_ key: String) throws(Problem) -> [String] {
            guard let value = settings[key] else { return [] }
            guard case .array(let list) = value else { throw Problem("\"\(key)\" must be an array of strings") }
            return try list.map { item throws(Problem) in
                guard case .string(let text) = item else { throw Problem("\"\(key)\" must be an array of strings") }
                return text
            }
        }
        func table(_ key: String) throws(Problem) -> [String: String] {
            guard let value = settings[key] else { return [:] }
            guard case .object(let object) = value else { throw Problem("\"\(key)\" must be an object of strings") }
            var result: [String: String] = [:]
            for (k, v) in object {
                guard case .string(let text) = v else { throw Problem("\"\(key)\".\"\(k)\" must be a string") }
                result[k] = text
            }
            return result
        }

        var timeout = defaultTimeout
        if let value = settings["timeout_seconds"] {
            guard case .number(let number) = value, number.double > 0, number.double <= 1e9 else {
                throw Problem("\"timeout_seconds\" must be a positive number")
            }
            timeout = .milliseconds(Int64((number.double * 1000).rounded(.up)))
        }
        if let type = settings["type"] {
            guard case .string(let type) = type, ["stdio", "http", "streamable-http", "streamableHttp"].contains(type) else {
                throw Problem("\"type\" must be \"stdio\" or \"http\" (Streamable HTTP); the older SSE transport is not supported")
            }
        }

        switch (settings["command"], settings["url"]) {
        case (nil, nil):
            throw Problem("needs a \"command\" (a program run over stdio) or a \"url\" (Streamable HTTP)")
        case (.some, .some):
            throw Problem("has both \"command\" and \"url\"; give one")
        case (let command?, nil):
            guard case .string(let command) = command, !command.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw Problem("\"command\" must be a non-empty string")
            }
            if settings["headers"] != nil { throw Problem("\"headers\" only applies to a \"url\" server") }
            return MCPServerConfiguration(
                name: name, endpoint: .stdio(command: command, arguments: try strings("args"), environment: try table("env")),
                timeout: timeout)
        case (nil, let url?):
            guard case .string(let text) = url, let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                  ["http", "https"].contains(scheme), url.host?.isEmpty == false else {
                throw Problem("\"url\" must be an http:// or https:// URL")
            }
            if settings["args"] != nil || settings["env"] != nil {
                throw Problem("\"args\" and \"env\" only apply to a \"command\" server")
            }
            return MCPServerConfiguration(name: name, endpoint: .http(url: url, headers: try table("headers")), timeout: timeout)
        }
    }
}

public struct MCPConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file (or other source) that is wrong.
    public var source: String
    public var message: String

    public var description: String { "\(source): \(message)" }
}
