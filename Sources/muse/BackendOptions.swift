// Where the generating commands get their model: the local engine, or any OpenAI-compatible
// server (another `muse serve`, llama.cpp, vLLM, Ollama, OpenAI) through `RemoteModel`.
import ArgumentParser
import Foundation
import MuseCore
import MuseRemote

struct BackendOptions: ParsableArguments {
    enum Backend: String, ExpressibleByArgument, CaseIterable {
        case local, openai
    }

    @Option(help: "local (the built-in engine) or openai (an OpenAI-compatible server at --base-url; --model then names the server's model, default its first).")
    var backend: Backend = .local

    @Option(name: .customLong("base-url"), help: "With --backend openai: the server's API root, e.g. http://127.0.0.1:8080/v1.")
    var baseURL: String?

    @Option(name: .customLong("api-key"), help: "With --backend openai: the server's key (default: $MUSE_API_KEY, else $OPENAI_API_KEY).")
    var apiKey: String?

    func validate() throws {
        try Self.check(backend, baseURL: baseURL, keyGiven: apiKey != nil, keyOption: "--api-key")
    }

    /// The rules of the backend options, for this group and for `serve`, whose own `--api-key`
    /// means its clients' keys (the server's key is `keyOption` there).
    static func check(_ backend: Backend, baseURL: String?, keyGiven: Bool, keyOption: String) throws {
        switch backend {
        case .local:
            if baseURL != nil || keyGiven { throw ValidationError("--base-url and \(keyOption) are for --backend openai") }
        case .openai:
            guard let baseURL else {
                throw ValidationError("--backend openai needs --base-url, the server's API root (e.g. http://127.0.0.1:8080/v1)")
            }
            guard httpURL(baseURL) != nil else {
                throw ValidationError("--base-url must be an http(s) URL such as http://127.0.0.1:8080/v1, not '\(baseURL)'")
            }
        }
    }

    /// The server's model when `baseURL` is given (checked by `check`), else nil. The key defaults
    /// to $MUSE_API_KEY, else $OPENAI_API_KEY.
    static func remoteModel(baseURL: String?, key: String?, model: String?) async throws -> RemoteModel? {
        guard let base = baseURL.flatMap(httpURL) else { return nil }
        return try await RemoteModel(baseURL: base, apiKey: key ?? defaultKey, model: model)
    }

    /// The model to generate with: the local engine as `modelOptions` describes it, or the server's
    /// model named by `--model` (its first one without).
    func languageModel(_ modelOptions: ModelOptions) async throws -> any LanguageModel {
        if backend == .openai, let remote = try await Self.remoteModel(baseURL: baseURL, key: apiKey, model: modelOptions.model) {
            return remote
        }
        return try modelOptions.load()
    }

    /// The ids of the server's models.
    func remoteModels() async throws -> [String] {
        guard let base = baseURL.flatMap(Self.httpURL) else { return [] }
        return try await RemoteModel.models(baseURL: base, apiKey: apiKey ?? Self.defaultKey)
    }

    private static var defaultKey: String? {
        let environment = ProcessInfo.processInfo.environment
        return environment["MUSE_API_KEY"] ?? environment["OPENAI_API_KEY"]
    }

    private static func httpURL(_ text: String) -> URL? {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", url.host != nil else { return nil }
        return url
    }
}
