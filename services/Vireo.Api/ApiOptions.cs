using System.ComponentModel.DataAnnotations;

namespace Vireo.Api;

/// <summary>Settings of the results API (section "Api").</summary>
public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Largest video accepted by an upload, in bytes: 413 beyond it.</summary>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 2L * 1024 * 1024 * 1024;

    /// <summary>
    /// Longest an upload waits for its event to be delivered before it is answered 503. The API's producer gives a record
    /// up after this long (Kafka:MessageTimeoutMs is capped at it) and never sends it again, so an upload answered 503
    /// has no event sent after its answer (one already sent, whose acknowledgement did not come, may have been written).
    /// </summary>
    [Range(1, 300)]
    public int PublishTimeoutSeconds { get; set; } = 30;

    /// <summary>Requests a key may make per second, on average.</summary>
    [Range(1, 1_000_000)]
    public int RequestsPerSecond { get; set; } = 20;

    /// <summary>Requests a key may make at once after a quiet spell (the token bucket's size).</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 60;

    /// <summary>Event streams a key may hold open at once in one API process: 429 beyond it.</summary>
    [Range(1, 10_000)]
    public int MaxStreamsPerKey { get; set; } = 16;

    /// <summary>Uploads a key may send at once to one API process: 429 beyond it.</summary>
    [Range(1, 10_000)]
    public int MaxUploadsPerKey { get; set; } = 4;

    /// <summary>How long a checked key is trusted before it is looked up again; a revoked key stops working within this time.</summary>
    [Range(0, 3600)]
    public int KeyCacheSeconds { get; set; } = 10;

    /// <summary>How often an event stream looks for new frames and status changes, in milliseconds.</summary>
    [Range(20, 60_000)]
    public int EventPollMs { get; set; } = 500;

    /// <summary>
    /// Seconds an event stream may go without an event before it sends a "heartbeat" event, so that proxies and load
    /// balancers that cut idle connections (often after 60 s) leave a stream of a queued or slow video open.
    /// </summary>
    [Range(1, 300)]
    public int EventHeartbeatSeconds { get; set; } = 15;

    /// <summary>Most matches of a search that are ranked; the best of them are returned.</summary>
    [Range(1, 1_000_000)]
    public int SearchCandidates { get; set; } = 1000;

    /// <summary>Page size when a request names none.</summary>
    [Range(1, 1000)]
    public int DefaultPageSize { get; set; } = 50;

    /// <summary>Largest page a request may ask for.</summary>
    [Range(1, 1000)]
    public int MaxPageSize { get; set; } = 500;
}

/// <summary>The part of the pipeline's settings (section "Pipeline") that the API shares with the silos.</summary>
public sealed class ApiMediaOptions
{
    /// <summary>The media root the silos read sources from; uploads are stored under uploads/TENANT/ in it.</summary>
    [Required(ErrorMessage = "Pipeline:MediaRoot is not set; on the local stack, source .state/stack.env")]
    public string MediaRoot { get; set; } = "";

    /// <summary>Whether the silos accept URL sources; when off, a JSON upload naming a URL is refused here already.</summary>
    public bool AllowUrls { get; set; }

    /// <summary>Whether a URL may point at this host or a private network, as for the silos (off outside development).</summary>
    public bool AllowPrivateUrlHosts { get; set; }

    /// <summary>Largest download the silos accept; a URL whose answer says it is larger is refused here already.</summary>
    [Range(1, long.MaxValue)]
    public long MaxDownloadBytes { get; set; } = 2L * 1024 * 1024 * 1024;
}
