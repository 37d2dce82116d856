using System.Globalization;
using System.Net;
using System.Text.Json;
using Vireo.Testing;

namespace Vireo.Api.Tests;

/// <summary>An upload through the API goes through the real pipeline: live events, the result, frames, search, deletion.</summary>
[Collection(ApiCollection.Name)]
public sealed class VideoFlowTests(ApiCluster cluster)
{
    [Fact]
    public async Task UploadIsAnalysedStreamedListedSearchedAndDeleted()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        using var upload = await Http.UploadAsync(client, await File.ReadAllBytesAsync(cluster.Clip), """{"sampling":{"fps":2},"maxTiles":2}""");
        Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
        var id = (await Http.JsonAsync(upload)).GetProperty("id").GetString()!;
        Assert.Equal($"/v1/videos/{id}", upload.Headers.Location?.OriginalString);
        Assert.True(File.Exists(Path.Combine(cluster.MediaRoot, "uploads", tenant, id + ".video")));

        // The event stream, read from the start while the video is analysed, ends with its completion.
        var events = await ReadEventsAsync(client, $"/v1/videos/{id}/events", lastEventId: null, TimeSpan.FromMinutes(3));
        Assert.Equal("completed", events[^1].Type);
        var video = await Http.JsonAsync(await client.GetAsync($"/v1/videos/{id}"));
        Assert.Equal("completed", video.GetProperty("state").GetString());
        var stored = video.GetProperty("framesStored").GetInt32();
        Assert.True(stored >= 3, $"{stored} frames stored");
        var result = video.GetProperty("result");
        Assert.Equal(stored, result.GetProperty("frames").GetInt32());
        Assert.True(result.GetProperty("timeline").GetArrayLength() >= 1);
        Assert.Equal(0, result.GetProperty("textsOmitted").GetInt32());
        Assert.Equal(result.GetProperty("tokensBefore").GetInt64() - result.GetProperty("tokensAfter").GetInt64(), result.GetProperty("tokensSaved").GetInt64());
        // The model that ran: the silo's checkpoint on both sides, on the CPU in float32, for every stored frame.
        var run = Assert.Single(result.GetProperty("models").EnumerateArray());
        Assert.Equal(stored, run.GetProperty("frames").GetInt32());
        foreach (var side in new[] { "vision", "language" })
        {
            var model = run.GetProperty(side);
            Assert.Equal(Path.GetFileName(Repository.ShippedModel.TrimEnd('/')), model.GetProperty("name").GetString());
            Assert.Equal("vireo-small, vireo router", model.GetProperty("kind").GetString());
            Assert.Equal("float32", model.GetProperty("dtype").GetString());
            Assert.Equal("cpu", model.GetProperty("device").GetString());
        }

        // Every stored frame came once, in store order; progress never went back; ids only grew.
        var frameEvents = events.Where(e => e.Type == "frame").Select(e => e.Data.GetProperty("index").GetInt32()).ToList();
        Assert.Equal(stored, frameEvents.Count);
        Assert.Equal(frameEvents.Count, frameEvents.Distinct().Count());
        var progress = events.Where(e => e.Type == "progress").Select(e => e.Data.GetProperty("progress").GetDouble()).ToList();
        Assert.NotEmpty(progress);
        Assert.Equal(progress.Order(), progress);
        var positions = events.Select(e => e.Id.Split('.').Select(long.Parse).ToArray()).ToList();
        for (var i = 1; i < positions.Count; i++)
            Assert.True(positions[i][0] >= positions[i - 1][0] && positions[i][1] >= positions[i - 1][1], $"event ids went back: {events[i - 1].Id} then {events[i].Id}");

        // Resuming after the second frame sends the rest of the frames and the end again, nothing before.
        var resumed = await ReadEventsAsync(client, $"/v1/videos/{id}/events", events.First(e => e.Type == "frame" && e.Data.GetProperty("index").GetInt32() == frameEvents[1]).Id, TimeSpan.FromSeconds(30));
        Assert.Equal(frameEvents.Skip(2), resumed.Where(e => e.Type == "frame").Select(e => e.Data.GetProperty("index").GetInt32()));
        Assert.Equal("completed", resumed[^1].Type);

        // Frames page by page with the cursor add up to the whole, each with the router's decision per tile and how sure
        // the model was of its text: a text is reported only at the checkpoint's text threshold or above.
        var textThreshold = ShippedTextThreshold();
        var paged = new List<int>();
        string? cursor = null;
        do
        {
            var page = await Http.JsonAsync(await client.GetAsync($"/v1/videos/{id}/frames?limit=2" + (cursor is null ? "" : $"&cursor={cursor}")));
            foreach (var frame in page.GetProperty("items").EnumerateArray())
            {
                paged.Add(frame.GetProperty("index").GetInt32());
                var tiles = frame.GetProperty("tiles");
                Assert.True(tiles.GetArrayLength() >= 1);
                foreach (var tile in tiles.EnumerateArray())
                    Assert.Equal(tile.GetProperty("compressed").GetBoolean() ? 64 : 256, tile.GetProperty("tokens").GetInt32());
                var confidence = frame.GetProperty("textConfidence").GetDouble();
                Assert.InRange(confidence, 0.0, 1.0);
                if (frame.GetProperty("text").GetString() is { Length: > 0 } text)
                    Assert.True(confidence >= textThreshold, $"'{text}' reported at confidence {confidence}");
            }
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        Assert.Equal(frameEvents.Order(), paged);

        // Every frame has its thumbnail: a JPEG whose longer side is 320 px, the clip's 4:3 kept, cacheable by this
        // client alone and revalidated by its tag. Another tenant, a frame that does not exist, or a bad index get problems.
        using var otherTenant = await cluster.ClientAsync(ApiCluster.NewTenant());
        foreach (var index in frameEvents)
        {
            using var image = await client.GetAsync($"/v1/videos/{id}/frames/{index}/image");
            Assert.Equal(HttpStatusCode.OK, image.StatusCode);
            Assert.Equal("image/jpeg", image.Content.Headers.ContentType?.MediaType);
            Assert.Equal((320, 240), Http.JpegSize(await image.Content.ReadAsByteArrayAsync()));
            Assert.True(image.Headers.CacheControl is { Private: true }, $"Cache-Control: {image.Headers.CacheControl}");
            var tag = image.Headers.ETag!;
            using var revalidate = new HttpRequestMessage(HttpMethod.Get, $"/v1/videos/{id}/frames/{index}/image");
            revalidate.Headers.IfNoneMatch.Add(tag);
            Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(revalidate)).StatusCode);
            await Http.AssertProblemAsync(await otherTenant.GetAsync($"/v1/videos/{id}/frames/{index}/image"), HttpStatusCode.NotFound);
        }
        Assert.Equal(stored, Directory.GetFiles(Path.Combine(cluster.BlobRoot, "thumbnails", $"t-{tenant}", $"v-{id}")).Length);
        var missing = frameEvents.Max() + 1;
        Assert.Contains($"frame {missing}", await Http.AssertProblemAsync(await client.GetAsync($"/v1/videos/{id}/frames/{missing}/image"), HttpStatusCode.NotFound));
        await Http.AssertProblemAsync(await client.GetAsync($"/v1/videos/{id}/frames/-1/image"), HttpStatusCode.BadRequest);
        await Http.AssertProblemAsync(await client.GetAsync($"/v1/videos/{id}/frames/99999999999/image"), HttpStatusCode.BadRequest);

        var listed = await Http.JsonAsync(await client.GetAsync("/v1/videos?status=completed"));
        Assert.Equal(id, Assert.Single(listed.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        // `since` in any offset: an hour ago, written in UTC+02:00, lists the video; an hour ahead does not.
        async Task<int> ListedSince(TimeSpan fromNow)
        {
            var since = DateTimeOffset.UtcNow.Add(fromNow).ToOffset(TimeSpan.FromHours(2)).ToString("o");
            using var response = await client.GetAsync($"/v1/videos?since={Uri.EscapeDataString(since)}");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await Http.JsonAsync(response)).GetProperty("items").GetArrayLength();
        }
        Assert.Equal(1, await ListedSince(TimeSpan.FromHours(-1)));
        Assert.Equal(0, await ListedSince(TimeSpan.FromHours(1)));

        // A word of a caption finds the frame, highlighted.
        var caption = (await Http.JsonAsync(await client.GetAsync($"/v1/videos/{id}/frames?limit=1"))).GetProperty("items")[0].GetProperty("caption").GetString()!;
        var word = caption.Split(' ', StringSplitOptions.RemoveEmptyEntries).First(w => w.All(char.IsLetter));
        var search = await Http.JsonAsync(await client.GetAsync($"/v1/search?q={Uri.EscapeDataString(word)}&video={id}"));
        var hit = search.GetProperty("items")[0];
        Assert.Equal(id, hit.GetProperty("videoId").GetString());
        Assert.Contains($"<mark>{word}</mark>", hit.GetProperty("snippet").GetString(), StringComparison.OrdinalIgnoreCase);

        using var deleted = await client.DeleteAsync($"/v1/videos/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        await Http.AssertProblemAsync(await client.GetAsync($"/v1/videos/{id}"), HttpStatusCode.NotFound);
        Assert.Equal(0, (await Http.JsonAsync(await client.GetAsync($"/v1/search?q={Uri.EscapeDataString(word)}"))).GetProperty("items").GetArrayLength());
        Assert.False(File.Exists(Path.Combine(cluster.MediaRoot, "uploads", tenant, id + ".video")));
        Assert.False(Directory.Exists(Path.Combine(cluster.BlobRoot, "thumbnails", $"t-{tenant}", $"v-{id}")));
        await Http.AssertProblemAsync(await client.GetAsync($"/v1/videos/{id}/frames/{frameEvents[0]}/image"), HttpStatusCode.NotFound);
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from frames where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task AnUploadThatAsksForEveryReadingGetsTheOnesTheModelIsUnsureOfAndItsOwnThresholdCutsThem()
    {
        using var client = await cluster.ClientAsync(ApiCluster.NewTenant());
        var clip = await File.ReadAllBytesAsync(cluster.Clip);
        Assert.Contains("textThreshold must be a number at least 0 and below 1",
            await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, """{"textThreshold":1}"""), HttpStatusCode.UnprocessableEntity));

        // Asked for every reading, the upload gets each frame's text however unsure the model was of it.
        var every = await FramesAsync(client, clip, """{"sampling":{"fps":4},"maxTiles":2,"textThreshold":0,"shapeThreshold":0}""");
        var read = every.Values.Where(f => f.Text.Length > 0).ToList();
        Assert.True(read.Count >= 2, $"{read.Count} readings");
        var (least, most) = (read.Min(f => f.Confidence), read.Max(f => f.Confidence));
        Assert.True(most - least > 0.02, $"readings' confidences {least:F3}-{most:F3}");

        // Another upload of the same clip with its own threshold between them keeps the readings above it and reports
        // the others as none, frame by frame.
        var cut = Math.Round((least + most) / 2, 4);
        var some = await FramesAsync(client, clip, $$"""{"sampling":{"fps":4},"maxTiles":2,"textThreshold":{{cut.ToString(CultureInfo.InvariantCulture)}},"shapeThreshold":0}""");
        Assert.Equal(every.Keys.Order(), some.Keys.Order());
        foreach (var (index, frame) in every.Where(f => Math.Abs(f.Value.Confidence - cut) > 0.01))
            Assert.Equal(frame.Confidence >= cut ? frame.Text : "", some[index].Text);
        Assert.Contains(every.Values, f => f.Text.Length > 0 && f.Confidence < cut - 0.01);
        Assert.Contains(every.Values, f => f.Confidence > cut + 0.01);
    }

    /// <summary>Uploads the clip with the given options, waits for it, and returns each frame's text and text confidence by index.</summary>
    private static async Task<Dictionary<int, (string Text, double Confidence)>> FramesAsync(HttpClient client, byte[] clip, string options)
    {
        using var upload = await Http.UploadAsync(client, clip, options);
        Assert.Equal(HttpStatusCode.Accepted, upload.StatusCode);
        var id = (await Http.JsonAsync(upload)).GetProperty("id").GetString()!;
        var events = await ReadEventsAsync(client, $"/v1/videos/{id}/events", lastEventId: null, TimeSpan.FromMinutes(3));
        Assert.Equal("completed", events[^1].Type);
        return (await Http.JsonAsync(await client.GetAsync($"/v1/videos/{id}/frames?limit=100"))).GetProperty("items").EnumerateArray()
            .ToDictionary(f => f.GetProperty("index").GetInt32(), f => (f.GetProperty("text").GetString()!, f.GetProperty("textConfidence").GetDouble()));
    }

    public sealed record ServerEvent(string Type, string Id, JsonElement Data);

    [Fact]
    public async Task AStreamOfAVideoWithNothingNewSendsHeartbeatsThatKeepItsPosition()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        await cluster.QueryAsync<object>("insert into videos (tenant_id, video_id, state) values ($1, 'queued', 'accepted')", tenant);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        using var response = await client.GetAsync("/v1/videos/queued/events", HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        // A proxy in between is told to pass each event on as it comes.
        Assert.Equal("no", response.Headers.GetValues("X-Accel-Buffering").Single());
        var events = new List<System.Net.ServerSentEvents.SseItem<string>>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await response.Content.ReadAsStreamAsync(cancel.Token)).EnumerateAsync(cancel.Token))
        {
            events.Add(item);
            if (events.Count == 3)
                break;
        }
        // The video's state once, then, with nothing new, heartbeats: a client resuming from one misses nothing.
        Assert.Equal(["progress", "heartbeat", "heartbeat"], events.Select(e => e.EventType));
        Assert.All(events, e => Assert.Equal(events[0].EventId, e.EventId));
        Assert.Equal("accepted", JsonDocument.Parse(events[1].Data).RootElement.GetProperty("state").GetString());
    }

    /// <summary>Reads a stream until the server ends it (after completion or failure).</summary>
    internal static async Task<List<ServerEvent>> ReadEventsAsync(HttpClient client, string path, string? lastEventId, TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (lastEventId is not null)
            request.Headers.Add("Last-Event-ID", lastEventId);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = new List<ServerEvent>();
        await foreach (var item in System.Net.ServerSentEvents.SseParser.Create(await response.Content.ReadAsStreamAsync(cancel.Token)).EnumerateAsync(cancel.Token))
            events.Add(new ServerEvent(item.EventType, item.EventId ?? "", JsonDocument.Parse(item.Data).RootElement));
        return events;
    }

    private static double ShippedTextThreshold()
    {
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repository.ShippedModel, "config.json")));
        return config.RootElement.TryGetProperty("vireo", out var vireo) && vireo.TryGetProperty("text_threshold", out var threshold) ? threshold.GetDouble() : 0;
    }
}
