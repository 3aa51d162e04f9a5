// fetch_url's transfer: one GET whose body is cut at the cap and whose redirects are checked
// against the allowlist before they are followed.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MuseAgents

/// One GET through URLSession's delegate API, so that the body can be cut at the cap and a
/// redirect to a host off the allowlist refused before it is followed.
final class Download: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Page {
        let response: HTTPURLResponse
        let body: Data
        let truncated: Bool
    }

    let maxBytes: Int
    let maxRedirects: Int
    let isAllowed: @Sendable (URL) -> Bool
    /// The error for a fetch past its deadline, whichever of URLSession and our timer notices first.
    let timedOut: ToolError

    // Guarded by `lock`: the delegate callbacks, the deadline and cancellation race to finish.
    private let lock = NSLock()
    private var body = Data()
    private var redirects = 0
    private var refusal: ToolError?
    private var continuation: CheckedContinuation<Page, any Error>?

    private init(maxBytes: Int, maxRedirects: Int, timedOut: ToolError, isAllowed: @escaping @Sendable (URL) -> Bool) {
        self.maxBytes = maxBytes
        self.maxRedirects = maxRedirects
        self.timedOut = timedOut
        self.isAllowed = isAllowed
    }

    static func fetch(_ url: URL, maxBytes: Int, timeout: TimeInterval, maxRedirects: Int,
                      isAllowed: @escaping @Sendable (URL) -> Bool) async throws -> Page {
        let timedOut = ToolError.failed("no answer from \(url.host ?? url.absoluteString) within \(String(format: "%g", timeout)) s")
        let download = Download(maxBytes: maxBytes, maxRedirects: maxRedirects, timedOut: timedOut, isAllowed: isAllowed)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        let session = URLSession(configuration: configuration, delegate: download, delegateQueue: nil)
        defer { session.invalidateAndCancel() }
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.setValue("Muse fetch_url", forHTTPHeaderField: "User-Agent")
        request.setValue("text/html, text/*;q=0.9, application/json;q=0.9, */*;q=0.1", forHTTPHeaderField: "Accept")
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                download.lock.withLock { download.continuation = continuation }
                if Task.isCancelled { download.finish(.failure(CancellationError())) }
                task.resume()
                // URLSession's own timeouts are per packet on some platforms; this one is for the
                // whole fetch, so a server that accepts and then says nothing cannot stall a turn.
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    download.finish(.failure(timedOut))
                    task.cancel()
                }
            }
        } onCancel: {
            download.finish(.failure(CancellationError()))
            task.cancel()
        }
    }

    /// Resumes the caller once; later outcomes (a cancelled task's completion) are ignored.
    private func finish(_ result: Result<Page, any Error>) {
        let continuation = lock.withLock {
            defer { self.continuation = nil }
            return self.continuation
        }
        continuation?.resume(with: result)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        if ContentKind.isBinary(mimeType: response.mimeType) {
            let type = response.mimeType ?? "binary data"
            lock.withLock { refusal = .failed("\(response.url?.absoluteString ?? "the URL") is \(type), not text; only web pages and text can be read") }
            completionHandler(.cancel)
            dataTask.cancel()
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let full = lock.withLock {
            body.append(data.prefix(maxBytes - body.count))
            return body.count >= maxBytes
        }
        guard full, let response = dataTask.response as? HTTPURLResponse else { return }
        finish(.success(Page(response: response, body: lock.withLock { body }, truncated: true)))
        dataTask.cancel()
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        let refusal: ToolError? = lock.withLock {
            redirects += 1
            guard let target = request.url else { self.refusal = .failed("a redirect without a target"); return self.refusal }
            if redirects > maxRedirects { self.refusal = .failed("more than \(maxRedirects) redirects") }
            else if !isAllowed(target) {
                self.refusal = .failed("the page redirects to \(target.absoluteString), which is not on the list of sites this assistant may fetch")
            }
            return self.refusal
        }
        completionHandler(refusal == nil ? request : nil)
        if refusal != nil { task.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let (refusal, body) = lock.withLock { (self.refusal, self.body) }
        if let refusal { return finish(.failure(refusal)) }
        if let error = error as? URLError, error.code == .timedOut { return finish(.failure(timedOut)) }
        if let error { return finish(.failure(ToolError.failed("the fetch failed: \(error.localizedDescription)"))) }
        guard let response = task.response as? HTTPURLResponse else { return finish(.failure(ToolError.failed("the answer was not HTTP"))) }
        finish(.success(Page(response: response, body: body, truncated: false)))
    }
}
