// A small MCP server for the tests, over stdio. Its tools: echo (the text back), add (a + b),
// sleep (answers only after a long time), crash (ends the process at once) and fail (an error
// result). With --name NAME it calls itself NAME; with --exit-at-start it exits before reading
// anything; with --silent it reads but never answers.
import Foundation
import MCP

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = CommandLine.arguments
if arguments.contains("--exit-at-start") {
    FileHandle.standardError.write(Data("test server: told to exit at start\n".utf8))
    exit(3)
}
if arguments.contains("--silent") {
    while let _ = readLine() {}
    exit(0)
}
let name = arguments.firstIndex(of: "--name").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
    ?? "muse-test-mcp-server"

let server = Server(name: name, version: "1.0", capabilities: .init(tools: .init(listChanged: false)))

await server.withMethodHandler(ListTools.self) { _ in
    let text: Value = .object(["type": "string", "description": "Any text."])
    let number: Value = .object(["type": "number"])
    return .init(tools: [
        Tool(name: "echo", description: "Returns the text it is given.",
             inputSchema: .object(["type": "object", "properties": .object(["text": text]), "required": .array(["text"])])),
        Tool(name: "add", description: "Adds two numbers.",
             inputSchema: .object(["type": "object", "properties": .object(["a": number, "b": number]),
                                   "required": .array(["a", "b"])])),
        Tool(name: "sleep", description: "Answers after an hour.", inputSchema: .object(["type": "object"])),
        Tool(name: "crash", description: "Ends the server.", inputSchema: .object(["type": "object"])),
        Tool(name: "fail", description: "Always fails.", inputSchema: .object(["type": "object"])),
    ])
}

await server.withMethodHandler(CallTool.self) { call in
    let arguments = call.arguments ?? [:]
    switch call.name {
    case "echo":
        return .init(content: [.text(text: arguments["text"]?.stringValue ?? "", annotations: nil, _meta: nil)])
    case "add":
        func number(_ key: String) -> Double? { arguments[key].flatMap { Double($0, strict: false) } }
        guard let a = number("a"), let b = number("b") else {
            return .init(content: [.text(text: "a and b must be numbers", annotations: nil, _meta: nil)], isError: true)
        }
        let sum = a + b
        let text = sum == sum.rounded() && abs(sum) < 1e15 ? String(Int64(sum)) : String(sum)
        return .init(content: [.text(text: text, annotations: nil, _meta: nil)])
    case "sleep":
        try await Task.sleep(for: .seconds(3600))
        return .init(content: [.text(text: "awake", annotations: nil, _meta: nil)])
    case "crash":
        FileHandle.standardError.write(Data("test server: crashing as asked\n".utf8))
        exit(7)
    case "fail":
        return .init(content: [.text(text: "this tool always fails", annotations: nil, _meta: nil)], isError: true)
    default:
        return .init(content: [.text(text: "no tool named \(call.name)", annotations: nil, _meta: nil)], isError: true)
    }
}

try await server.start(transport: StdioTransport())
await server.waitUntilCompleted()
