// GET /metrics: what the server and its engine are doing, in the Prometheus text format. Requests
// by route and status, tokens, latencies (whole request, first token), and, sampled at each scrape,
// the engine's batches and KV blocks.
import Hummingbird
import MuseCore
import MuseOpenAI
import Prometheus
import Synchronization

final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let promptTokens: Counter
    private let completionTokens: Counter
    private let firstToken: DurationHistogram
    private let inFlight: Gauge
    private let engine: (@Sendable () -> EngineStatistics)?
    private let engineGauges: EngineGauges?
    /// The engine's counters as last published, so that each scrape adds only what is new.
    private let published = Mutex(EngineStatistics())

    static let latencyBuckets: [Duration] = [.milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                             .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
                                             .seconds(60), .seconds(120), .seconds(300)]

    init(model: any LanguageModel) {
        promptTokens = registry.makeCounter(descriptor: .muse("prompt_tokens", unit: "total", "Prompt tokens of finished generations."))
        completionTokens = registry.makeCounter(descriptor: .muse("completion_tokens", unit: "total", "Tokens generated."))
        firstToken = registry.makeDurationHistogram(descriptor: .muse("time_to_first_token", unit: "seconds",
                                                                     "From a request's arrival to its first streamed piece."),
                                                    buckets: Self.latencyBuckets)
        inFlight = registry.makeGauge(descriptor: .muse("requests_in_flight", unit: "", "Requests generating now (the most is --max-requests)."))
        if model.engineStatistics != nil {
            engine = { model.engineStatistics ?? EngineStatistics() }
            engineGauges = EngineGauges(registry)
        } else {
            engine = nil
            engineGauges = nil
        }
    }

    /// Counts a finished request to `route` (a route pattern, so that ids do not multiply series).
    func request(route: String, status: Int, took: Duration) {
        let labels = [("route", route), ("status", String(status))]
        registry.makeCounter(descriptor: .muse("http_requests", unit: "total", "HTTP requests answered, by route and status."),
                             labels: labels).increment()
        registry.makeDurationHistogram(descriptor: .muse("http_request_duration", unit: "seconds",
                                                         "From a request's arrival to the end of its response body, by route."),
                                       labels: [("route", route)], buckets: Self.latencyBuckets).record(took)
    }

    func tokens(_ usage: MuseCore.Usage) {
        promptTokens.increment(by: Int64(usage.promptTokens))
        completionTokens.increment(by: Int64(usage.completionTokens))
    }

    func firstPiece(after wait: Duration) { firstToken.record(wait) }

    /// The text exposition, the engine's figures and the requests at work brought up to date first.
    func exposition(requestsInFlight: Int) -> String {
        inFlight.set(Int64(requestsInFlight))
        if let engine, let gauges = engineGauges {
            let now = engine()
            let before = published.withLock { last in
                defer { last = now }
                return last
            }
            gauges.update(now, since: before)
        }
        return registry.emitToString()
    }

    /// Gauges and counters of the local engine, read from its scheduler at scrape time.
    private struct EngineGauges: Sendable {
        let steps, sequences, computed, reused: Counter
        let batch, largestBatch, running, blocksInUse, blocksCapacity: Gauge

        init(_ registry: PrometheusCollectorRegistry) {
            steps = registry.makeCounter(descriptor: .muse("engine_steps", unit: "total", "Forward passes of the engine."))
            sequences = registry.makeCounter(descriptor: .muse("engine_step_sequences", unit: "total",
                                                               "Sequences advanced, summed over the steps: over steps, the mean batch size."))
            computed = registry.makeCounter(descriptor: .muse("engine_prompt_tokens_computed", unit: "total", "Prompt tokens computed."))
            reused = registry.makeCounter(descriptor: .muse("engine_prompt_tokens_reused", unit: "total",
                                                            "Prompt tokens taken from cached prefixes instead of computed."))
            batch = registry.makeGauge(descriptor: .muse("engine_batch_size", unit: "", "Sequences in the last forward pass."))
            largestBatch = registry.makeGauge(descriptor: .muse("engine_batch_size_max", unit: "", "Sequences in the largest forward pass."))
            running = registry.makeGauge(descriptor: .muse("engine_sequences_running", unit: "", "Completions waiting, prefilling or decoding."))
            blocksInUse = registry.makeGauge(descriptor: .muse("kv_blocks_in_use", unit: "", "KV cache blocks holding sequences or cached prefixes."))
            blocksCapacity = registry.makeGauge(descriptor: .muse("kv_blocks_capacity", unit: "", "The most KV cache blocks there may be."))
        }

        func update(_ now: EngineStatistics, since before: EngineStatistics) {
            steps.increment(by: Int64(max(now.steps - before.steps, 0)))
            sequences.increment(by: Int64(max(now.sequencesStepped - before.sequencesStepped, 0)))
            computed.increment(by: Int64(max(now.promptTokensComputed - before.promptTokensComputed, 0)))
            reused.increment(by: Int64(max(now.promptTokensReused - before.promptTokensReused, 0)))
            batch.set(Int64(now.lastBatch))
            largestBatch.set(Int64(now.largestBatch))
            running.set(Int64(now.running))
            blocksInUse.set(Int64(now.kvBlocksInUse))
            blocksCapacity.set(Int64(now.kvBlocksCapacity))
        }
    }
}

extension MetricNameDescriptor {
    static func muse(_ name: String, unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "muse", metricName: name, unitName: unit, helpText: help)
    }
}

/// Counts every request with its route pattern and status, timed to the end of its body (a stream
/// included).
struct MetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch {
            // The error middleware (outside this one) turns it into a response; count it here.
            metrics.request(route: Self.route(context), status: APIError.from(error).status, took: .now - start)
            throw error
        }
        let route = Self.route(context), status = Int(response.status.code), metrics = metrics
        var timed = response
        let body = response.body
        timed.body = ResponseBody(contentLength: body.contentLength) { writer in
            defer { metrics.request(route: route, status: status, took: .now - start) }
            try await body.write(writer)
        }
        return timed
    }

    static func route(_ context: Context) -> String {
        context.endpointPath ?? "unmatched"
    }
}
