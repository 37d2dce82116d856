using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Vireo.Storage;
using Vireo.Testing;

namespace Vireo.Api.Tests;

/// <summary>Keys, tenants, limits and bad input: what the API refuses, and that a refusal leaves nothing behind.</summary>
[Collection(ApiCollection.Name)]
public sealed class GuardTests(ApiCluster cluster)
{
    [Fact]
    public async Task EveryApiEndpointWantsALiveKeyButHealthAndTheDocumentDoNot()
    {
        using var anonymous = await cluster.ClientAsync(null);
        foreach (var path in new[] { "/v1/videos", "/v1/videos/x", "/v1/videos/x/frames", "/v1/videos/x/events", "/v1/search?q=a" })
        {
            using var response = await anonymous.GetAsync(path);
            await Http.AssertProblemAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }
        using (var post = await Http.UploadAsync(anonymous, [1, 2, 3]))
            await Http.AssertProblemAsync(post, HttpStatusCode.Unauthorized);

        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "vireo_" + new string('a', 56));
        await Http.AssertProblemAsync(await anonymous.GetAsync("/v1/videos"), HttpStatusCode.Unauthorized);

        var key = await cluster.CreateKeyAsync(ApiCluster.NewTenant());
        anonymous.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v1/videos")).StatusCode);
        Assert.True(await new ApiKeyStore(cluster.Database).RevokeAsync(key.Key.KeyId));
        await Http.AssertProblemAsync(await anonymous.GetAsync("/v1/videos"), HttpStatusCode.Unauthorized);

        anonymous.DefaultRequestHeaders.Authorization = null;
        foreach (var path in new[] { "/healthz", "/readyz", "/openapi/v1.json", "/" })
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync(path)).StatusCode);
        var document = await Http.JsonAsync(await anonymous.GetAsync("/openapi/v1.json"));
        Assert.True(document.GetProperty("paths").TryGetProperty("/v1/videos/{id}/frames", out _));
    }

    [Fact]
    public async Task AnotherTenantsVideoIsNotFoundAndTwoTenantsMayShareAnId()
    {
        var (a, b) = (ApiCluster.NewTenant(), ApiCluster.NewTenant());
        foreach (var (tenant, state) in new[] { (a, "completed"), (b, "failed") })
        {
            await cluster.QueryAsync<object>("insert into tenants (tenant_id) values ($1)", tenant);
            await cluster.QueryAsync<object>("insert into videos (tenant_id, video_id, state) values ($1, 'shared', $2)", tenant, state);
        }
        await cluster.QueryAsync<object>("insert into videos (tenant_id, video_id, state) values ($1, 'only-a', 'completed')", a);
        using var clientB = await cluster.ClientAsync(b);
        var missing = await Http.AssertProblemAsync(await clientB.GetAsync("/v1/videos/never-made"), HttpStatusCode.NotFound);
        Assert.Equal(missing, await Http.AssertProblemAsync(await clientB.GetAsync("/v1/videos/only-a"), HttpStatusCode.NotFound));
        await Http.AssertProblemAsync(await clientB.GetAsync("/v1/videos/only-a/frames"), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await clientB.GetAsync("/v1/videos/only-a/events"), HttpStatusCode.NotFound);
        await Http.AssertProblemAsync(await clientB.DeleteAsync("/v1/videos/only-a"), HttpStatusCode.NotFound);
        Assert.Equal("failed", (await Http.JsonAsync(await clientB.GetAsync("/v1/videos/shared"))).GetProperty("state").GetString());
        var listed = (await Http.JsonAsync(await clientB.GetAsync("/v1/videos"))).GetProperty("items");
        Assert.Equal("shared", Assert.Single(listed.EnumerateArray()).GetProperty("id").GetString());

        Assert.Equal(HttpStatusCode.NoContent, (await clientB.DeleteAsync("/v1/videos/shared")).StatusCode);
        Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1 and video_id = 'shared'", a));
    }

    [Fact]
    public async Task TooLargeUploadsAreRefusedWith413AndLeaveNoFile()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        // Declared too large: refused before a byte of the body is read.
        using (var raw = new RawHttp(cluster.BaseAddress))
            Assert.StartsWith("HTTP/1.1 413", await raw.SendHeadersOnlyAsync(client.DefaultRequestHeaders.Authorization!.ToString(), 64L * 1024 * 1024 * 1024));
        // A body within the declared limit whose file is over it: refused while it streams in.
        var file = new byte[ApiCluster.MaxUploadBytes + 100_000];
        await Http.AssertProblemAsync(await Http.UploadAsync(client, file), HttpStatusCode.RequestEntityTooLarge);
        await AssertNothingStoredAsync(tenant);
    }

    [Fact]
    public async Task ABodyIsAnsweredWithTheStatusOfWhatIsWrongWithIt()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        var authorization = client.DefaultRequestHeaders.Authorization!.ToString();
        // The tenant's first upload, refused before anything of it was stored.
        Assert.Contains("not valid JSON", await Http.AssertProblemAsync(
            await client.PostAsync("/v1/videos", new StringContent("{not json", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest));
        // Without a Content-Length, a JSON body past its limit is found out while it streams in.
        var json = Encoding.UTF8.GetBytes($$"""{"url":"http://example.com/{{new string('a', 70_000)}}.mp4"}""");
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/videos") { Content = new ChunkedContent(json, "application/json") })
            Assert.Contains("65536", await Http.AssertProblemAsync(await client.SendAsync(request), HttpStatusCode.RequestEntityTooLarge));
        // Chunks whose sizes are not hexadecimal numbers are not HTTP.
        using (var raw = new RawHttp(cluster.BaseAddress))
        {
            await raw.SendAsync(authorization, "Content-Type: application/json\r\nTransfer-Encoding: chunked", "zz\r\n{\"url\":\"http://example.com/a.mp4\"}\r\n0\r\n\r\n"u8.ToArray());
            var (status, detail) = await raw.ReadProblemAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(400, status);
            Assert.NotEmpty(detail);
        }
        // A body that stops coming is timed out, as the server's minimum data rate says.
        using (var raw = new RawHttp(cluster.BaseAddress))
        {
            await raw.StartUploadAsync(authorization, declaredBytes: 900_000, sentBytes: 0);
            Assert.Equal(408, (await raw.ReadProblemAsync(TimeSpan.FromSeconds(60))).Status);
        }
        await AssertNothingStoredAsync(tenant);
    }

    [Fact]
    public async Task AnUploadWithTwoOptionsPartsIsRefusedRatherThanOneOfThemChosen()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        using var body = new MemoryStream();
        foreach (var options in new[] { """{"maxTiles":2}""", """{"maxTiles":4}""" })
            body.Write(Encoding.UTF8.GetBytes($"--x\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{options}\r\n"));
        body.Write("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"clip.mp4\"\r\n\r\n"u8);
        body.Write(await File.ReadAllBytesAsync(cluster.Clip));
        body.Write("\r\n--x--\r\n"u8);
        var content = new ByteArrayContent(body.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        Assert.Contains("options", await Http.AssertProblemAsync(await client.PostAsync("/v1/videos", content), HttpStatusCode.BadRequest));
        await AssertNothingStoredAsync(tenant);
    }

    [Fact]
    public async Task AKeyPastItsRateIsToldToRetryLater()
    {
        using var client = await cluster.ClientAsync(ApiCluster.NewTenant());
        var responses = await Task.WhenAll(Enumerable.Range(0, ApiCluster.Burst * 2).Select(_ => client.GetAsync("/v1/videos")));
        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) >= ApiCluster.Burst - ApiCluster.RequestsPerSecond);
        Assert.True(refused[0].Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        await Http.AssertProblemAsync(refused[0], HttpStatusCode.TooManyRequests);
        // Another key of the same tenant has a bucket of its own.
        using var other = await cluster.ClientAsync(ApiCluster.NewTenant());
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync("/v1/videos")).StatusCode);
    }

    [Fact]
    public async Task AKeyHoldsOnlySoManyEventStreamsAndUploadsOpenAtOnce()
    {
        var api = await cluster.StartApiAsync("api-open", ("Api__MaxStreamsPerKey", "2"), ("Api__MaxUploadsPerKey", "2"),
            ("Api__MaxUploadBytes", ApiCluster.MaxUploadBytes.ToString()));
        var tenant = ApiCluster.NewTenant();
        await cluster.QueryAsync<object>("insert into tenants (tenant_id) values ($1)", tenant);
        await cluster.QueryAsync<object>("insert into videos (tenant_id, video_id, state) values ($1, 'live', 'processing')", tenant);
        var key = await cluster.CreateKeyAsync(tenant);
        using var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        Task<HttpResponseMessage> OpenStream(HttpClient c) => c.GetAsync("/v1/videos/live/events", HttpCompletionOption.ResponseHeadersRead);

        // Two streams of a running video stay open; a third is refused with the limit and when to retry.
        var first = await OpenStream(client);
        using var second = await OpenStream(client);
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        using (var third = await OpenStream(client))
        {
            Assert.Contains("2 event streams open", await Http.AssertProblemAsync(third, HttpStatusCode.TooManyRequests));
            Assert.True(third.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1));
        }
        // Another key has places of its own, and a stream closed gives its place back.
        using (var other = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) })
        {
            other.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await cluster.CreateKeyAsync(tenant)).Secret);
            using var otherStream = await OpenStream(other);
            Assert.Equal(HttpStatusCode.OK, otherStream.StatusCode);
        }
        first.Dispose();
        await Eventually.WaitAsync(async () => { using var again = await OpenStream(client); return again.StatusCode; },
            status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "a stream opened once another closed");

        // Two uploads on their way hold the key's two upload places: a third, even one that would be refused at once, is not read.
        var notAVideo = Encoding.UTF8.GetBytes("not a video");
        using (var held1 = new RawHttp(api))
        using (var held2 = new RawHttp(api))
        {
            await held1.StartUploadAsync("Bearer " + key.Secret, declaredBytes: 900_000, sentBytes: 300_000);
            await held2.StartUploadAsync("Bearer " + key.Secret, declaredBytes: 900_000, sentBytes: 300_000);
            // Both are being stored: each holds its place.
            await Eventually.UntilAsync(() => FilesOf(tenant).Count(f => f.EndsWith(".part", StringComparison.Ordinal)) == 2, TimeSpan.FromSeconds(20), "two partial files");
            using var refused = await Http.UploadAsync(client, notAVideo);
            Assert.Contains("2 uploads in progress", await Http.AssertProblemAsync(refused, HttpStatusCode.TooManyRequests));
        }
        // Once they are gone, an upload is read again (and this one, not a video, refused for that).
        await Eventually.WaitAsync(() => Http.UploadAsync(client, notAVideo), r => r.StatusCode == HttpStatusCode.UnprocessableEntity,
            TimeSpan.FromSeconds(20), "an upload read once the held ones went away");
        Assert.Empty(FilesOf(tenant));
        Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task ADatabaseOrThumbnailStoreOutOfReachIsA503ToRetryNotAServerError()
    {
        await using var postgres = await PrivatePostgres.StartAsync();
        var tenant = ApiCluster.NewTenant();
        NewApiKey key;
        await using (var data = NpgsqlDataSource.Create(postgres.ConnectionString))
        {
            await new Migrator(data, NullLogger<Migrator>.Instance).MigrateAsync();
            key = await new ApiKeyStore(data).CreateAsync(tenant, "test");
            foreach (var sql in new[]
                     {
                         "insert into videos (tenant_id, video_id, state) values ($1, 'done', 'completed')",
                         "insert into frames (tenant_id, video_id, frame_index, timestamp_s, reasons, caption, text_found, tokens_before, tokens_after, decode_ms, vision_ms, language_ms) " +
                         "values ($1, 'done', 0, 0, 'first', 'a circle', '', 256, 64, 1, 1, 1)",
                     })
                await data.ScalarAsync<object>(sql, tenant);
        }
        // Its own database, and a thumbnail store on a port where nothing listens; the key is remembered once checked.
        var api = await cluster.StartApiAsync("api-out-of-reach", ("ConnectionStrings__Postgres", postgres.ConnectionString), ("Api__KeyCacheSeconds", "600"),
            ("Blobs__Kind", "S3"), ("Blobs__S3__Bucket", "vireo-thumbs"), ("Blobs__S3__ServiceUrl", "http://127.0.0.1:9"),
            ("Blobs__S3__AccessKeyId", "vireo"), ("Blobs__S3__SecretAccessKey", "not-used"), ("Blobs__S3__TimeoutSeconds", "2"));
        using var client = new HttpClient { BaseAddress = api, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/videos")).StatusCode);

        static async Task AssertRetryLaterAsync(HttpResponseMessage response, string what)
        {
            Assert.Contains(what, await Http.AssertProblemAsync(response, HttpStatusCode.ServiceUnavailable));
            Assert.True(response.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "a 503 says when to retry");
        }
        await AssertRetryLaterAsync(await client.GetAsync("/v1/videos/done/frames/0/image"), "thumbnail store");
        await AssertRetryLaterAsync(await client.DeleteAsync("/v1/videos/done"), "thumbnails could not be deleted");

        postgres.Stop();
        await AssertRetryLaterAsync(await client.GetAsync("/v1/videos"), "database");
        await AssertRetryLaterAsync(await client.GetAsync("/v1/videos/done/frames"), "database");
        await postgres.StartAgainAsync();
        await Eventually.WaitAsync(() => client.GetAsync("/v1/videos/done"), r => r.StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30), "an answer once the database is back");
    }

    [Fact]
    public async Task HostileFileNamesAndLyingContentTypesDecideNothing()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        var clip = await File.ReadAllBytesAsync(cluster.Clip);
        var ids = new List<string>();
        // The name is never used: the stored file is named by ids, under the tenant's folder.
        foreach (var name in new[] { "../../../../etc/passwd", "/tmp/evil.mp4", "a\0b.mp4", new string('n', 10_000) + ".mp4", "..\\..\\x.mp4" })
        {
            using var response = await Http.UploadAsync(client, clip, fileName: name, fileType: "text/plain");
            Assert.True(HttpStatusCode.Accepted == response.StatusCode, $"{name[..Math.Min(20, name.Length)]}: {await response.Content.ReadAsStringAsync()}");
            ids.Add((await Http.JsonAsync(response)).GetProperty("id").GetString()!);
        }
        Assert.Equal(ids.Select(id => id + ".video").Order(), FilesOf(tenant).Select(Path.GetFileName).Order());
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(cluster.MediaRoot), e => Path.GetFileName(e) != "uploads");

        // A text file that claims to be a video is probed and refused; nothing of it stays.
        var before = FilesOf(tenant).Count;
        var refusal = await Http.AssertProblemAsync(await Http.UploadAsync(client, Encoding.UTF8.GetBytes("not a video at all\n")), HttpStatusCode.UnprocessableEntity);
        Assert.Contains("not a video", refusal);
        Assert.DoesNotContain(cluster.MediaRoot, refusal);
        Assert.Equal(before, FilesOf(tenant).Count);
        // A multipart body that ends before its closing boundary, sent whole: malformed, and nothing of it stays.
        foreach (var (cut, said) in new[]
        {
            ("--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc", "ends before its closing boundary"),
            ("--x\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n{", "ends before its closing boundary"),
            ("--x\r\nContent-Disposition: form-da", "Content-Disposition"),
            ("no boundary at all", "malformed"),
        })
        {
            var truncated = new StringContent(cut, Encoding.ASCII);
            truncated.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
            Assert.Contains(said, await Http.AssertProblemAsync(await client.PostAsync("/v1/videos", truncated), HttpStatusCode.BadRequest));
        }
        Assert.Equal(before, FilesOf(tenant).Count);
        // A body that is neither multipart nor JSON.
        await Http.AssertProblemAsync(await client.PostAsync("/v1/videos", new StringContent("x", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType);
        // Options checked by the upload event's own rules.
        await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, """{"sampling":{"fps":1000}}"""), HttpStatusCode.UnprocessableEntity);
        await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, """{"minTiles":5,"maxTiles":2}"""), HttpStatusCode.UnprocessableEntity);
        await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, "{not json"), HttpStatusCode.UnprocessableEntity);
        // URLs are off unless the deployment allows them.
        await Http.AssertProblemAsync(await client.PostAsync("/v1/videos", new StringContent("""{"url":"http://example.com/a.mp4"}""", Encoding.UTF8, "application/json")),
            HttpStatusCode.UnprocessableEntity);
        Assert.Equal(before, FilesOf(tenant).Count);
        Assert.Equal((long)ids.Count, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
    }

    [Fact]
    public async Task SqlLookingOversizedAndAbsurdQueryValuesAreAnsweredNotObeyed()
    {
        using var client = await cluster.ClientAsync(ApiCluster.NewTenant());
        foreach (var q in new[] { "'; drop table frames; --", "\" or 1=1 --", "a & | ! ( ) : *", "select * from api_keys" })
        {
            using var response = await client.GetAsync($"/v1/search?q={Uri.EscapeDataString(q)}");
            Assert.True(HttpStatusCode.OK == response.StatusCode, $"{q}: {await response.Content.ReadAsStringAsync()}");
            Assert.Equal(0, (await Http.JsonAsync(response)).GetProperty("items").GetArrayLength());
        }
        Assert.True(await cluster.QueryAsync<bool>("select to_regclass('frames') is not null"));
        foreach (var path in new[]
                 {
                     "/v1/search", "/v1/search?q=", $"/v1/search?q={new string('a', 257)}", $"/v1/search?q={new string('a', 10_000)}", "/v1/search?q=a&limit=0",
                     "/v1/search?q=a&limit=100000", "/v1/videos?limit=0", "/v1/videos?limit=-1", "/v1/videos?limit=1000000", "/v1/videos?limit=99999999999",
                     "/v1/videos?limit=abc", "/v1/videos?cursor=garbage", $"/v1/videos?cursor={new string('A', 5000)}", "/v1/videos?status=deleted",
                     "/v1/videos?since=yesterday", "/v1/videos/x/frames?limit=100000", "/v1/videos/x/frames?from=5&to=1", "/v1/videos/x/frames?from=-1",
                     "/v1/videos/x/frames?cursor=Zjox%00", "/v1/search?q=a&video=../../etc",
                 })
            await Http.AssertProblemAsync(await client.GetAsync(path), HttpStatusCode.BadRequest);
        // A cursor is a position, not a permission: another tenant's cursor only positions within the caller's videos.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/v1/videos?cursor={Cursors.ForVideo(DateTimeOffset.UtcNow, "zz")}")).StatusCode);
    }

    [Fact]
    public async Task AQueryValueThatIsNotOfItsTypeIsRefusedWithTheReason()
    {
        using var client = await cluster.ClientAsync(ApiCluster.NewTenant());
        foreach (var (path, parameter) in new[]
                 {
                     ("/v1/videos?limit=abc", "limit"), ("/v1/videos?limit=", "limit"), ("/v1/videos?since=yesterday", "since"),
                     ("/v1/videos?limit=1&limit=2", "limit"), ("/v1/videos/x/frames?from=soon", "from"), ("/v1/search?q=a&limit=ten", "limit"),
                 })
        {
            var detail = await Http.AssertProblemAsync(await client.GetAsync(path), HttpStatusCode.BadRequest);
            Assert.True(detail.Contains(parameter, StringComparison.Ordinal), $"{path}: the detail '{detail}' does not name {parameter}");
        }
    }

    [Fact]
    public async Task TenThousandCharacterIdsAndKeysAreRefused()
    {
        using var client = await cluster.ClientAsync(ApiCluster.NewTenant());
        var id = new string('v', 10_000);
        foreach (var path in new[] { $"/v1/videos/{id}", $"/v1/videos/{id}/frames", $"/v1/videos/{id}/events" })
            await Http.AssertProblemAsync(await client.GetAsync(path), HttpStatusCode.BadRequest);
        await Http.AssertProblemAsync(await client.DeleteAsync($"/v1/videos/{id}"), HttpStatusCode.BadRequest);
        await Http.AssertProblemAsync(await Http.UploadAsync(client, [1], idempotencyKey: new string('k', 10_000)), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task NoKeyIsMadeForTheTenantsDotAndDotDotAndAKeyOfOneUploadsNothing()
    {
        foreach (var name in new[] { ".", ".." })
            await Assert.ThrowsAsync<ArgumentException>(() => cluster.CreateKeyAsync(name));
        // A key whose tenant is "..", as one made before the rule would be: its uploads would land in the media root.
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        await cluster.QueryAsync<object>("insert into tenants (tenant_id) values ('..') on conflict do nothing");
        await cluster.QueryAsync<object>("update api_keys set tenant_id = '..' where tenant_id = $1", tenant);
        await Http.AssertProblemAsync(await Http.UploadAsync(client, await File.ReadAllBytesAsync(cluster.Clip)), HttpStatusCode.Unauthorized);
        Assert.DoesNotContain(Directory.EnumerateFileSystemEntries(cluster.MediaRoot), e => Path.GetFileName(e) != "uploads");
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = '..'"));
    }

    [Fact]
    public async Task AnUploadWhoseEventIsOutStandsWhenItsIdempotencyKeyCannotBeRecorded()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        var clip = await File.ReadAllBytesAsync(cluster.Clip);
        // Recording which video a key made fails, for this tenant alone; taking the key does not.
        await cluster.QueryAsync<object>($"""
            create function refuse_{tenant}() returns trigger language plpgsql as $$ begin raise exception 'the key cannot be recorded'; end $$;
            create trigger refuse_{tenant} before update on api_idempotency for each row
                when (new.tenant_id = '{tenant}' and new.video_id is not null) execute function refuse_{tenant}();
            """);
        try
        {
            using var upload = await Http.UploadAsync(client, clip, idempotencyKey: "made-once");
            Assert.True(HttpStatusCode.Accepted == upload.StatusCode, await upload.Content.ReadAsStringAsync());
            var id = (await Http.JsonAsync(upload)).GetProperty("id").GetString()!;
            // Its event went out, so its file stays for the media silo to read...
            Assert.Contains($"{tenant}/{id}", cluster.UploadEventKeys());
            Assert.Equal([Path.Combine(cluster.MediaRoot, "uploads", tenant, id + ".video")], FilesOf(tenant));
            // ...and its key is not given to a second video.
            await Http.AssertProblemAsync(await Http.UploadAsync(client, clip, idempotencyKey: "made-once"), HttpStatusCode.Conflict);
            Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
        }
        finally
        {
            await cluster.QueryAsync<object>($"drop trigger refuse_{tenant} on api_idempotency; drop function refuse_{tenant}();");
        }
    }

    [Fact]
    public async Task ParallelUploadsWithOneIdempotencyKeyMakeOneVideo()
    {
        var tenant = ApiCluster.NewTenant();
        using var client = await cluster.ClientAsync(tenant);
        var clip = await File.ReadAllBytesAsync(cluster.Clip);
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Http.UploadAsync(client, clip, idempotencyKey: "same-upload")));
        // Six at once are more than a key may send (Api:MaxUploadsPerKey, 4): those past it are 429.
        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.Conflict, HttpStatusCode.TooManyRequests }));
        var ids = new HashSet<string>();
        foreach (var r in responses.Where(r => r.StatusCode == HttpStatusCode.Accepted))
            ids.Add((await Http.JsonAsync(r)).GetProperty("id").GetString()!);
        var id = Assert.Single(ids);
        // A retry after the first finished answers with the same video.
        using var retry = await Http.UploadAsync(client, clip, idempotencyKey: "same-upload");
        Assert.Equal(HttpStatusCode.Accepted, retry.StatusCode);
        Assert.Equal(id, (await Http.JsonAsync(retry)).GetProperty("id").GetString());
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        // The key sent with another upload is refused, not answered with the first one's video: another file (the
        // same with 16 bytes more), or the same file with other options.
        using (var otherFile = await Http.UploadAsync(client, [.. clip, .. new byte[16]], idempotencyKey: "same-upload"))
            Assert.Contains("another upload", await Http.AssertProblemAsync(otherFile, HttpStatusCode.UnprocessableEntity));
        using (var otherOptions = await Http.UploadAsync(client, clip, options: """{"sampling":{"fps":2}}""", idempotencyKey: "same-upload"))
            Assert.Contains("another upload", await Http.AssertProblemAsync(otherOptions, HttpStatusCode.UnprocessableEntity));

        Assert.Equal(1L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
        Assert.Single(FilesOf(tenant));
        Assert.Equal([$"{tenant}/{id}"], cluster.UploadEventKeys().Where(k => k.StartsWith(tenant + "/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task AClientThatDisconnectsMidUploadLeavesNoFileAndPublishesNothing()
    {
        var tenant = ApiCluster.NewTenant();
        var key = await cluster.CreateKeyAsync(tenant);
        using (var raw = new RawHttp(cluster.BaseAddress))
        {
            await raw.StartUploadAsync("Bearer " + key.Secret, declaredBytes: 900_000, sentBytes: 300_000);
            // The server has begun to store it...
            await Eventually.UntilAsync(() => FilesOf(tenant).Any(f => f.EndsWith(".part", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), "a partial file");
        }
        // ...and, once the connection is gone, drops it.
        await Eventually.UntilAsync(() => FilesOf(tenant).Count == 0, TimeSpan.FromSeconds(20), "the partial file removed");
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
        Assert.DoesNotContain(cluster.UploadEventKeys(), k => k.StartsWith(tenant + "/", StringComparison.Ordinal));
    }

    /// <summary>The tenant has no upload file and no video row.</summary>
    private async Task AssertNothingStoredAsync(string tenant)
    {
        Assert.Empty(FilesOf(tenant));
        Assert.Equal(0L, await cluster.QueryAsync<long>("select count(*) from videos where tenant_id = $1", tenant));
    }

    private List<string> FilesOf(string tenant)
    {
        var folder = Path.Combine(cluster.MediaRoot, "uploads", tenant);
        return Directory.Exists(folder) ? Directory.EnumerateFiles(folder).ToList() : [];
    }
}

/// <summary>HTTP/1.1 spoken over a socket, for requests no client library sends: a body cut off, a length that is never sent.</summary>
internal sealed class RawHttp(Uri baseAddress) : IDisposable
{
    private readonly TcpClient _tcp = new(baseAddress.Host, baseAddress.Port);

    public async Task<string> SendHeadersOnlyAsync(string authorization, long contentLength)
    {
        var stream = _tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/videos HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nAuthorization: {authorization}\r\n" +
            $"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: {contentLength}\r\n\r\n"));
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    /// <summary>A POST to /v1/videos with the given extra headers and the body exactly as given.</summary>
    public async Task SendAsync(string authorization, string headers, byte[] body)
    {
        var stream = _tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/videos HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nAuthorization: {authorization}\r\n{headers}\r\n\r\n"));
        await stream.WriteAsync(body);
        await stream.FlushAsync();
    }

    /// <summary>Reads the answer to the request sent: its status, and the detail of its problem+json body.</summary>
    public async Task<(int Status, string Detail)> ReadProblemAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        var stream = _tcp.GetStream();
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            // Latin-1 keeps one character per byte, so that lengths and chunk sizes count bytes.
            var text = Encoding.Latin1.GetString(received.GetBuffer(), 0, (int)received.Length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0 && WholeBody(text[..end], text[(end + 4)..]) is { } body)
            {
                var problem = System.Text.Json.JsonDocument.Parse(Encoding.Latin1.GetBytes(body)).RootElement;
                return (int.Parse(text.AsSpan(9, 3)), problem.TryGetProperty("detail", out var detail) ? detail.GetString() ?? "" : "");
            }
            var read = await stream.ReadAsync(buffer, cancel.Token);
            if (read == 0)
                throw new IOException($"the connection closed before the answer was whole: {text}");
            received.Write(buffer, 0, read);
        }
    }

    // The body once all of it arrived, with any chunking taken off; null until then.
    private static string? WholeBody(string head, string rest)
    {
        var length = head.Split("\r\n").FirstOrDefault(h => h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
        if (length is not null)
        {
            var bytes = int.Parse(length["Content-Length:".Length..].Trim());
            return rest.Length >= bytes ? rest[..bytes] : null;
        }
        var body = new StringBuilder();
        var at = 0;
        while (true)
        {
            var line = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
            if (line < 0)
                return null;
            var size = Convert.ToInt32(rest[at..line], 16);
            if (size == 0)
                return body.ToString();
            if (rest.Length < line + 2 + size + 2)
                return null;
            body.Append(rest, line + 2, size);
            at = line + 2 + size + 2;
        }
    }

    public async Task StartUploadAsync(string authorization, int declaredBytes, int sentBytes)
    {
        const string boundary = "cut";
        var head = Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n");
        var stream = _tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/videos HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nAuthorization: {authorization}\r\n" +
            $"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {declaredBytes}\r\n\r\n"));
        await stream.WriteAsync(head);
        await stream.WriteAsync(new byte[Math.Max(0, sentBytes - head.Length)]);
        await stream.FlushAsync();
    }

    public void Dispose()
    {
        // A reset rather than an orderly close: the way a client that dies mid-upload goes.
        _tcp.LingerState = new LingerOption(true, 0);
        _tcp.Dispose();
    }
}
