using Vireo.Messaging;

namespace Vireo.Api;

/// <summary>The answer to an accepted upload.</summary>
/// <param name="Id">The video's id, under which every result is found.</param>
/// <param name="State">"accepted": analysis starts once a media silo takes the upload event.</param>
/// <param name="Location">Where the video's status and result are read.</param>
public sealed record UploadAccepted(string Id, string State, string Location);

/// <summary>A JSON upload: a URL the media silos download (where Pipeline:AllowUrls is on), and analysis options.</summary>
public sealed record UrlUpload(string? Url, AnalysisRequestOptions? Options);

/// <summary>A video in a list.</summary>
public sealed record VideoSummary(
    string Id, string State, double Progress, int FramesDone, int? FramesExpected, DateTimeOffset CreatedAt, DateTimeOffset? CompletedAt);

/// <summary>A page of videos, newest first; <see cref="NextCursor"/> fetches the next page, null on the last.</summary>
public sealed record VideoPage(IReadOnlyList<VideoSummary> Items, string? NextCursor);

/// <summary>A run of consecutive frames with the same content.</summary>
public sealed record TimelineSegmentView(double StartSeconds, double EndSeconds, int FirstFrame, int LastFrame, string Caption, IReadOnlyList<string> Texts);

/// <summary>
/// A model that computed some of a video's frames: the checkpoint, kind, dtype and device of its vision side (tiles and
/// router) and of its language side (caption and text), and how many of the stored frames it computed.
/// </summary>
public sealed record ModelRunView(ModelIdentity? Vision, ModelIdentity? Language, int Frames);

/// <summary>
/// What the analysis found in the whole video, once it completed: its distinct texts in order of first appearance
/// (<see cref="TextsOmitted"/> more were found than are listed), its timeline, and which models ran (<see cref="Models"/>,
/// most frames first).
/// </summary>
public sealed record VideoResultView(
    int Frames, double? DurationSeconds, long? TokensBefore, long? TokensAfter, long? TokensSaved,
    IReadOnlyList<string> Texts, int TextsOmitted, IReadOnlyList<TimelineSegmentView> Timeline, IReadOnlyList<ModelRunView> Models);

/// <summary>A video's status, progress and, once completed, its result.</summary>
public sealed record VideoDetail(
    string Id, string State, double Progress, int FramesDone, int? FramesExpected, int FramesStored, int Attempt, string? Reason,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? CompletedAt, VideoResultView? Result);

/// <summary>The router's decision for one tile: the 64-token path (compressed) or the 256-token one, and its probability.</summary>
public sealed record TileView(int Tile, bool Compressed, double Probability, int Tokens);

/// <summary>
/// One analysed frame. <see cref="TextConfidence"/> is how sure the model was of the text it read, from 0 to 1, before
/// its text threshold turned a less sure reading into no text; null where the model did not say.
/// </summary>
public sealed record FrameView(
    int Index, double TimestampSeconds, string Reasons, string Caption, string Text, double? TextConfidence, int TokensBefore, int TokensAfter,
    IReadOnlyList<TileView> Tiles);

/// <summary>A page of frames in index order; <see cref="NextCursor"/> fetches the next page, null on the last.</summary>
public sealed record FramePage(IReadOnlyList<FrameView> Items, string? NextCursor);

/// <summary>A frame that matches a search, with its snippet (matches between &lt;mark&gt; and &lt;/mark&gt;).</summary>
public sealed record SearchHit(string VideoId, int FrameIndex, double TimestampSeconds, double Rank, string Snippet, string Caption, string Text);

/// <summary>Search results, best first.</summary>
public sealed record SearchResults(string Query, IReadOnlyList<SearchHit> Items);
