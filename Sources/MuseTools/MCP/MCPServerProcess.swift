// A stdio MCP server's process: started with pipes for its standard streams, watched so that its
// exit is known at once, and stopped in steps (end of input, then SIGTERM, then SIGKILL).
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import MuseAgents
import MuseCore

final class MCPServerProcess: @unchecked Sendable {
    private let process = Process()
    /// Our end of each pipe is used; the child's ends are closed by `Process` once it runs.
    private let input = Pipe(), output = Pipe(), errors = Pipe()
    private let lock = NSLock()
    private var exitStatus: (reason: Process.TerminationReason, status: Int32)?
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []
    private var exitHandlers: [@Sendable () -> Void] = []
    private var errorTail = Data()
    private var errorOutputEnded = false
    private static let errorTailLimit = 2_000

    /// What the client reads (the server's standard output).
    var readDescriptor: Int32 { output.fileHandleForReading.fileDescriptor }
    /// What the client writes (the server's standard input).
    var writeDescriptor: Int32 { input.fileHandleForWriting.fileDescriptor }
    var processIdentifier: Int32 { process.processIdentifier }

    /// Starts `command` (a path, or a name looked up on PATH) with the environment of this process
    /// plus `environment`.
    init(command: String, arguments: [String], environment: [String: String]) throws(MCPConnectionError) {
        // A server that dies while we write to it must give a write error, not end this process.
        signal(SIGPIPE, SIG_IGN)
        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        guard let executable = Self.resolve(command, path: merged["PATH"]) else {
            throw .failedToStart("command not found: \(command)")
        }
        process.executableURL = executable
        process.arguments = arguments
        process.environment = merged
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        errors.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let chunk = handle.availableData
            if chunk.isEmpty {
                handle.readabilityHandler = nil
                self?.endErrorOutput()
            } else {
                self?.keepErrorOutput(chunk)
            }
        }
        process.terminationHandler = { [weak self] process in
            self?.exited(reason: process.terminationReason, status: process.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            errors.fileHandleForReading.readabilityHandler = nil
            throw .failedToStart("cannot run \(executable.path): \(error.localizedDescription)")
        }
    }

    static func resolve(_ command: String, path: String?) -> URL? {
        let files = FileManager.default
        if command.contains("/") {
            return files.isExecutableFile(atPath: command) ? URL(fileURLWithPath: command) : nil
        }
        for folder in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(folder)).appendingPathComponent(command)
            var isFolder: ObjCBool = false
            if files.fileExists(atPath: candidate.path, isDirectory: &isFolder), !isFolder.boolValue,
               files.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }

    private func keepErrorOutput(_ chunk: Data) {
        lock.lock()
        errorTail.append(chunk)
        if errorTail.count > Self.errorTailLimit { errorTail = Data(errorTail.suffix(Self.errorTailLimit)) }
        lock.unlock()
    }

    private func endErrorOutput() {
        lock.lock()
        errorOutputEnded = true
        lock.unlock()
    }

    /// Waits a little for the last of standard error after an exit, so that the exit can be
    /// explained with it.
    func waitForErrorOutput(upTo limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if lock.withLock({ errorOutputEnded }) { return }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    private func exited(reason: Process.TerminationReason, status: Int32) {
        lock.lock()
        exitStatus = (reason, status)
        let waiters = exitWaiters, handlers = exitHandlers
        exitWaiters = []
        exitHandlers = []
        lock.unlock()
        for handler in handlers { handler() }
        for waiter in waiters { waiter.resume() }
    }

    var hasExited: Bool {
        lock.lock()
        defer { lock.unlock() }
        return exitStatus != nil
    }

    /// Calls `handler` once the process has exited (at once if it has).
    func onExit(_ handler: @escaping @Sendable () -> Void) {
        lock.lock()
        if exitStatus != nil {
            lock.unlock()
            handler()
            return
        }
        exitHandlers.append(handler)
        lock.unlock()
    }

    /// How the process ended, with the end of what it wrote to standard error; nil while it runs.
    var exitDescription: String? {
        lock.lock()
        defer { lock.unlock() }
        guard let (reason, status) = exitStatus else { return nil }
        var text = reason == .uncaughtSignal ? "was killed by signal \(status)" : "exited with status \(status)"
        let said = String(decoding: errorTail, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if !said.isEmpty {
            let lastLines = said.split(separator: "\n").suffix(3).joined(separator: " / ")
            text += " (it said: \(lastLines))"
        }
        return text
    }

    /// Waits until the process has exited, or `limit` has passed; whether it exited.
    @discardableResult
    func waitForExit(upTo limit: Duration) async -> Bool {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: limit)
            self?.releaseWaiters()
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if exitStatus != nil {
                lock.unlock()
                continuation.resume()
            } else {
                exitWaiters.append(continuation)
                lock.unlock()
            }
        }
        timer.cancel()
        return hasExited
    }

    private func releaseWaiters() {
        lock.lock()
        let waiters = exitWaiters
        exitWaiters = []
        lock.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Stops the server: its input is closed (a well-behaved server then exits), then it gets
    /// SIGTERM, then SIGKILL, each after `grace`.
    func stop(grace: Duration = .seconds(2)) async {
        try? input.fileHandleForWriting.close()
        if await waitForExit(upTo: grace) { return closeOutput() }
        kill(process.processIdentifier, SIGTERM)
        if await waitForExit(upTo: grace) { return closeOutput() }
        kill(process.processIdentifier, SIGKILL)
        await waitForExit(upTo: grace)
        closeOutput()
    }

    private func closeOutput() {
        try? output.fileHandleForReading.close()
    }
}
