// The MCP client against the package's own test server over stdio (tools listed and called,
// error results, a server that hangs, crashes or never starts), against a small Streamable HTTP
// server in Python (JSON and event-stream replies, the session header), and the configuration
// file's checks.
import Foundation
import MuseCore
import Testing
@testable import MuseAgents
@testable import MuseTools

/// The test server built beside this test bundle (MUSE_MCP_TEST_SERVER names another).
enum TestServerBinary {
    static let name = "muse-test-mcp-server"

    static let path: String? = {
        let files = FileManager.default
        if let given = ProcessInfo.processInfo.environment["MUSE_MCP_TEST_SERVER"], files.isExecutableFile(atPath: given) {
            return given
        }
        // The bundle's own folder: .build*/<configuration>/ (or the triple's folder it links to).
        var folders: [URL] = []
        for executable in [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])].compactMap({ $0 }) {
            var folder = executable.resolvingSymlinksInPath().deletingLastPathComponent()
            // Inside an .xctest bundle on macOS: …/X.xctest/Contents/MacOS/X
            while folder.pathComponents.contains(where: { $0.hasSuffix(".xctest") }) { folder.deleteLastPathComponent() }
            folders.append(folder)
        }
        for folder in folders {
            let candidate = folder.appendingPathComponent(name).path
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        // Otherwise the newest build under the package's .build* folders.
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var found: [(path: String, date: Date)] = []
        let scratch = (try? files.contentsOfDirectory(atPath: package.path))?.filter { $0.hasPrefix(".build") } ?? []
        for folder in scratch {
            let root = package.appendingPathComponent(folder)
            var configurations = ["debug", "release"].map { root.appendingPathComponent($0) }
            for triple in (try? files.contentsOfDirectory(atPath: root.path)) ?? [] where triple.contains("-") {
                configurations += ["debug", "release"].map { root.appendingPathComponent(triple).appendingPathComponent($0) }
            }
            for configuration in configurations {
                let candidate = configuration.appendingPathComponent(name).path
                if files.isExecutableFile(atPath: candidate),
                   let date = (try? files.attributesOfItem(atPath: candidate))?[.modificationDate] as? Date {
                    found.append((candidate, date))
                }
            }
        }
        return found.max { $0.date < $1.date }?.path
    }()
}

/// A Streamable HTTP MCP server: initialize answers with JSON and a session id; later requests
/// must carry that id and the protocol version; tools/list answers with an event stream (a
/// notification first, the answer split over two data lines, sent in pieces); tools/call `echo`
/// answers with JSON, `stream` with an event stream left open after the answer, `fail` with an
/// error result.
private let httpServerScript = #"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SESSION = "session-42"
state = {"version": None}

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply_json(self, status, obj, headers={}):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def start_events(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def event(self, text):
        self.wfile.write(text.encode())
        self.wfile.flush()

    def do_DELETE(self):
        self.send_response(200 if self.headers.get("Mcp-Session-Id") == SESSION else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        accept = self.headers.get("Accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            return self.reply_json(406, {"error": "bad Accept: " + accept})
        message = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        method = message.get("method")
        if method == "initialize":
            state["version"] = message["params"]["protocolVersion"]
            return self.reply_json(200, {"jsonrpc": "2.0", "id": message["id"], "result": {
                "protocolVersion": state["version"], "capabilities": {"tools": {}},
                "serverInfo": {"name": "http-test", "version": "1"}}}, {"Mcp-Session-Id": SESSION})
        if self.headers.get("Mcp-Session-Id") != SESSION:
            return self.reply_json(400, {"error": "no session id"})
        if self.headers.get("MCP-Protocol-Version") != state["version"]:
            return self.reply_json(400, {"error": "bad protocol version: %s" % self.headers.get("MCP-Protocol-Version")})
        if "id" not in message:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if method == "tools/list":
            tools = [{"name": n, "description": n + " over HTTP", "inputSchema": {"type": "object"}}
                     for n in ["echo", "stream", "fail"]]
            answer = json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": {"tools": tools}}, separators=(", ", ": "))
            head, tail = answer.split(", ", 1)
            self.start_events()
            self.event(": a comment\r\n")
            self.event('event: message\r\ndata: {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "hi"}}\r\n\r\n')
            self.event("event: ping\ndata: not a message\n\n")
            text = "data: " + head + ",\ndata: " + tail + "\n\n"
            for i in range(0, len(text), 7):
                self.event(text[i:i + 7])
                time.sleep(0.002)
            return
        if method == "tools/call":
            name = message["params"]["name"]
            args = message["params"].get("arguments") or {}
            if name == "echo":
                return self.reply_json(200, {"jsonrpc": "2.0", "id": message["id"], "result": {
                    "content": [{"type": "text", "text": args.get("text", "")}]}})
            if name in ("stream", "fail"):
                result = {"content": [{"type": "text", "text": "streamed" if name == "stream" else "failed over HTTP"}]}
                if name == "fail":
                    result["isError"] = True
                self.start_events()
                self.event("data: " + json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}) + "\n\n")
                if name == "stream":
                    time.sleep(600)
                return
        return self.reply_json(200, {"jsonrpc": "2.0", "id": message["id"], "error": {"code": -32601, "message": "unknown"}})

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("port %d" % server.server_address[1], flush=True)
server.serve_forever()
"""#

@Suite(.serialized) struct MCPTests {
    func server(_ name: String = "test", _ arguments: [String] = [], timeout: Duration = .seconds(30)) throws -> MCPServerConfiguration {
        let binary = try #require(TestServerBinary.path, "\(TestServerBinary.name) is not built (swift build builds it)")
        return MCPServerConfiguration(name: name, endpoint: .stdio(command: binary, arguments: arguments, environment: [:]),
                                      timeout: timeout)
    }

    func call(_ tool: any MuseAgents.Tool, _ arguments: String = "{}") async -> ToolResult {
        await ToolExecutor.runOne(ToolCall(id: "1", name: tool.name, arguments: arguments), tools: [tool], timeout: .seconds(120))
    }

    @Test func toolsAreListedAndCalled() async throws {
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [try server()]))
        defer { Task { await toolbox.close() } }
        #expect(toolbox.failures.isEmpty)
        #expect(toolbox.tools.map(\.name) == ["echo", "add", "sleep", "crash", "fail"])
        let echo = try #require(toolbox.tools.first { $0.name == "echo" })
        #expect(echo.description == "Returns the text it is given.")
        #expect(echo.parametersSchema == #"{"properties":{"text":{"description":"Any text.","type":"string"}},"required":["text"],"type":"object"}"#)
        #expect(try await echo.call(arguments: #"{"text": "hello, MCP"}"#) == "hello, MCP")
        let add = try #require(toolbox.tools.first { $0.name == "add" })
        #expect(try await add.call(arguments: #"{"a": 2, "b": 3.5}"#) == "5.5")
        #expect(try await add.call(arguments: #"{"a": 40, "b": 2}"#) == "42")

        let failed = await call(try #require(toolbox.tools.first { $0.name == "fail" }))
        #expect(failed.isError)
        #expect(failed.content == "error: this tool always fails")
        let badArguments = await call(add, "[1, 2]")
        #expect(badArguments.isError && badArguments.content.contains("expected a JSON object"))
        await toolbox.close()
        let closed = await call(echo, #"{"text": "x"}"#)
        #expect(closed.isError && closed.content.contains("closed"))
    }

    @Test func aHungServerGivesAnErrorWithinTheTimeout() async throws {
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [try server(timeout: .seconds(1))]))
        defer { Task { await toolbox.close() } }
        let sleep = try #require(toolbox.tools.first { $0.name == "sleep" })
        let start = ContinuousClock.now
        let result = await call(sleep)
        let elapsed = ContinuousClock.now - start
        #expect(result.isError)
        #expect(result.content.contains("no answer to tools/call sleep within 1.0 seconds"), "\(result.content)")
        // Under the tool's 60 s sleep; loose, as model tests sharing the two cores can hold the
        // cooperative threads for tens of seconds.
        #expect(elapsed >= .milliseconds(900) && elapsed < .seconds(50), "took \(elapsed)")
        // The server is still there for other calls.
        let echo = try #require(toolbox.tools.first { $0.name == "echo" })
        #expect(await call(echo, #"{"text": "still here"}"#).content == "still here")
    }

    @Test func aServerThatNeverAnswersFailsToConnectWithinTheTimeout() async throws {
        let start = ContinuousClock.now
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [try server("mute", ["--silent"], timeout: .seconds(1))]))
        // Loose, as the suite's other tests can hold the cooperative threads for tens of seconds;
        // without the timeout this would wait for ever.
        #expect(ContinuousClock.now - start < .seconds(120))
        #expect(toolbox.tools.isEmpty)
        #expect(toolbox.failures == [#"MCP server "mute": no answer to initialize within 1.0 seconds"#])
    }

    @Test func aCrashedServerGivesAnErrorPromptlyAndLaterCallsFail() async throws {
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [try server(timeout: .seconds(600))]))
        defer { Task { await toolbox.close() } }
        let crash = try #require(toolbox.tools.first { $0.name == "crash" })
        let start = ContinuousClock.now
        let result = await call(crash)
        #expect(ContinuousClock.now - start < .seconds(120), "not prompt: the timeout is 600 s")
        #expect(result.isError)
        #expect(result.content.contains("the server is gone: it exited with status 7 (it said: test server: crashing as asked)"),
                "\(result.content)")
        let echo = try #require(toolbox.tools.first { $0.name == "echo" })
        let later = ContinuousClock.now
        let after = await call(echo, #"{"text": "anyone?"}"#)
        #expect(ContinuousClock.now - later < .seconds(120))
        #expect(after.isError && after.content.contains("the server is gone"), "\(after.content)")
    }

    @Test func serversThatCannotStartAreFailuresAndTheOthersServe() async throws {
        let configuration = MCPConfiguration(servers: [
            try server("good"),
            try server("quits", ["--exit-at-start"], timeout: .seconds(600)),
            MCPServerConfiguration(name: "missing", endpoint: .stdio(command: "muse-no-such-mcp-server", arguments: [], environment: [:])),
        ])
        let start = ContinuousClock.now
        let toolbox = await MCPToolbox.connect(configuration)
        defer { Task { await toolbox.close() } }
        #expect(ContinuousClock.now - start < .seconds(120), "a server that exits must not be waited on until the 600 s timeout")
        #expect(toolbox.tools.count == 5)
        #expect(toolbox.failures.count == 2)
        #expect(toolbox.failures.contains(#"MCP server "missing": could not start: command not found: muse-no-such-mcp-server"#),
                "\(toolbox.failures)")
        #expect(toolbox.failures.contains { $0.hasPrefix(#"MCP server "quits": the server is gone: it exited with status 3"#) },
                "\(toolbox.failures)")
        let echo = try #require(toolbox.tools.first { $0.name == "echo" })
        #expect(try await echo.call(arguments: #"{"text": "ok"}"#) == "ok")
    }

    @Test func clashingNamesArePrefixedWithTheServer() async throws {
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [try server("one"), try server("two.b", ["--name", "second"])]),
                                               reservedNames: ["calculator", "add"])
        defer { Task { await toolbox.close() } }
        #expect(toolbox.failures.isEmpty)
        #expect(Set(toolbox.tools.map(\.name)) == ["one_echo", "one_add", "one_sleep", "one_crash", "one_fail",
                                                   "two_b_echo", "two_b_add", "two_b_sleep", "two_b_crash", "two_b_fail"])
        let echo = try #require(toolbox.tools.first { $0.name == "two_b_echo" })
        #expect(echo.remoteName == "echo")
        #expect(try await echo.call(arguments: #"{"text": "from two"}"#) == "from two")

        let single = await MCPToolbox.connect(MCPConfiguration(servers: [try server("solo")]), reservedNames: ["echo"])
        defer { Task { await single.close() } }
        #expect(single.tools.map(\.name) == ["solo_echo", "add", "sleep", "crash", "fail"])
        #expect(MCPToolbox.functionName("files/read file") == "files_read_file")
    }

    @Test func theHTTPTransportTakesJSONAndEventStreamReplies() async throws {
        let http = try LocalServer(script: ["-c", httpServerScript])
        let configuration = MCPServerConfiguration(name: "web", endpoint: .http(url: URL(string: http.url("mcp"))!, headers: ["X-Test": "1"]),
                                                   timeout: .seconds(600))
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [configuration]))
        defer { Task { await toolbox.close() } }
        #expect(toolbox.failures.isEmpty, "\(toolbox.failures)")
        #expect(toolbox.tools.map(\.name) == ["echo", "stream", "fail"])
        #expect(toolbox.tools.first?.description == "echo over HTTP")
        let echo = try #require(toolbox.tools.first { $0.name == "echo" })
        #expect(try await echo.call(arguments: #"{"text": "over the wire"}"#) == "over the wire")
        // The server keeps this event stream open for ten minutes after its answer.
        let stream = try #require(toolbox.tools.first { $0.name == "stream" })
        let start = ContinuousClock.now
        #expect(try await stream.call(arguments: "{}") == "streamed")
        #expect(ContinuousClock.now - start < .seconds(120))
        let failed = await call(try #require(toolbox.tools.first { $0.name == "fail" }))
        #expect(failed.isError && failed.content == "error: failed over HTTP")
    }

    @Test func anHTTPServerThatIsNotThereIsAFailure() async throws {
        let configuration = MCPServerConfiguration(name: "nowhere", endpoint: .http(url: URL(string: "http://127.0.0.1:9/mcp")!, headers: [:]),
                                                   timeout: .seconds(5))
        let toolbox = await MCPToolbox.connect(MCPConfiguration(servers: [configuration]))
        #expect(toolbox.tools.isEmpty)
        #expect(toolbox.failures.count == 1)
        #expect(toolbox.failures.first?.hasPrefix(#"MCP server "nowhere": "#) == true)
    }

    @Test func eventStreamsAreDecodedWhereverTheBytesAreCut() {
        let stream = Data(": hello\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nevent: other\ndata: skip\n\nid: 7\ndata:[2]\n\ndata: é\n\ndata: last".utf8)
        let expected = ["{\"a\":\n1}", "[2]", "é", "last"]
        for cut in 0...stream.count {
            var decoder = EventStreamDecoder()
            var messages = decoder.feed(stream.prefix(cut)) + decoder.feed(stream.dropFirst(cut))
            messages += decoder.finish()
            #expect(messages.map { String(decoding: $0, as: UTF8.self) } == expected, "cut at \(cut)")
        }
        var decoder = EventStreamDecoder()
        var messages: [Data] = []
        for byte in stream { messages += decoder.feed(Data([byte])) }
        #expect((messages + decoder.finish()).map { String(decoding: $0, as: UTF8.self) } == expected)
    }

    @Test func configurationFiles() throws {
        let json = #"""
            {"mcpServers": {
                "files": {"command": "mcp-files", "args": ["--root", "/srv"], "env": {"LOG": "0"}, "disabled": false},
                "web": {"type": "http", "url": "https://example.com/mcp", "headers": {"Authorization": "Bearer x"}, "timeout_seconds": 2.5}
            }}
            """#
        let configuration = try MCPConfiguration(json: Data(json.utf8))
        #expect(configuration.servers == [
            MCPServerConfiguration(name: "files", endpoint: .stdio(command: "mcp-files", arguments: ["--root", "/srv"], environment: ["LOG": "0"])),
            MCPServerConfiguration(name: "web", endpoint: .http(url: URL(string: "https://example.com/mcp")!, headers: ["Authorization": "Bearer x"]),
                                   timeout: .milliseconds(2500)),
        ])
        #expect(try MCPConfiguration(json: Data(#"{"servers": {}}"#.utf8)).servers.isEmpty)
    }

    @Test(arguments: [
        ("not json", "f.json: is not valid JSON"),
        ("[1]", "f.json: must be a JSON object with a \"servers\" object"),
        (#"{"tools": {}}"#, "f.json: has no \"servers\" (or \"mcpServers\") object"),
        (#"{"servers": []}"#, "f.json: \"servers\" must be an object of server name → settings"),
        (#"{"servers": {"a": 1}}"#, "f.json: server \"a\": must be an object"),
        (#"{"servers": {"a": {}}}"#, "f.json: server \"a\": needs a \"command\" (a program run over stdio) or a \"url\" (Streamable HTTP)"),
        (#"{"servers": {"a": {"command": "x", "url": "http://h/"}}}"#, "f.json: server \"a\": has both \"command\" and \"url\"; give one"),
        (#"{"servers": {"a": {"command": ""}}}"#, "f.json: server \"a\": \"command\" must be a non-empty string"),
        (#"{"servers": {"a": {"command": "x", "args": "-v"}}}"#, "f.json: server \"a\": \"args\" must be an array of strings"),
        (#"{"servers": {"a": {"command": "x", "args": [1]}}}"#, "f.json: server \"a\": \"args\" must be an array of strings"),
        (#"{"servers": {"a": {"command": "x", "env": {"K": 1}}}}"#, "f.json: server \"a\": \"env\".\"K\" must be a string"),
        (#"{"servers": {"a": {"url": "ftp://h/x"}}}"#, "f.json: server \"a\": \"url\" must be an http:// or https:// URL"),
        (#"{"servers": {"a": {"url": "http://h/", "args": []}}}"#, "f.json: server \"a\": \"args\" and \"env\" only apply to a \"command\" server"),
        (#"{"servers": {"a": {"command": "x", "timeout_seconds": 0}}}"#, "f.json: server \"a\": \"timeout_seconds\" must be a positive number"),
        (#"{"servers": {"a": {"command": "x", "timeout_seconds": "5"}}}"#, "f.json: server \"a\": \"timeout_seconds\" must be a positive number"),
        (#"{"servers": {"a": {"command": "x", "timeout_seconds": 1e300}}}"#, "f.json: server \"a\": \"timeout_seconds\" must be a positive number"),
        (#"{"servers": {"a": {"type": "sse", "url": "http://h/"}}}"#,
         "f.json: server \"a\": \"type\" must be \"stdio\" or \"http\" (Streamable HTTP); the older SSE transport is not supported"),
    ])
    func badConfigurationFilesAreExplained(_ json: String, _ message: String) {
        #expect(throws: MCPConfigurationError.self) { try MCPConfiguration(json: Data(json.utf8), source: "f.json") }
        do {
            _ = try MCPConfiguration(json: Data(json.utf8), source: "f.json")
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func aMissingConfigurationFileIsNamed() {
        do {
            _ = try MCPConfiguration(contentsOfFile: "/nonexistent/muse-mcp.json")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.hasPrefix("/nonexistent/muse-mcp.json: cannot be read"))
        }
    }
}
