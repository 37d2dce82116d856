using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>
/// `vireo bench api`: the results API over a database of its own (vireo_bench, seeded once with 2,000 videos of 500
/// frames, two tiles each, over 10 tenants: 1,000,000 frames), an API process of its own with rate limits out of the
/// way, and wrk as the load: a 100-frame page of a random video of one tenant, then a one-word search in it.
/// </summary>
public static partial class BenchApiCommand
{
    private const int Tenants = 10;
    private const int Videos = 2_000;
    private const int FramesPerVideo = 500;
    private const string Database = "vireo_bench";

    private static readonly string[] Words =
    [
        "red", "green", "blue", "yellow", "purple", "orange", "black", "white", "square", "circle", "triangle", "star", "line", "arrow",
        "person", "car", "street", "building", "tree", "sky", "water", "road", "sign", "door", "window", "table", "screen", "chart",
        "text", "label", "price", "exit", "open", "closed", "stop", "left", "right", "north", "south", "east", "west", "small", "large",
        "bright", "dark", "empty", "crowded", "moving", "still", "near", "far", "top", "bottom", "center", "corner", "wall", "floor",
        "light", "shadow", "logo", "number", "page", "map", "clock",
    ];

    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "How long each wrk run lasts.", DefaultValueFactory = _ => 15 };
        var connections = new Option<int>("--connections") { Description = "wrk's open connections for throughput (saturating the API).", DefaultValueFactory = _ => 16 };
        var latencyConnections = new Option<int>("--latency-connections")
        {
            Description = "wrk's open connections for the latency runs, which leave the API unsaturated.",
            DefaultValueFactory = _ => 2,
        };
        var command = new Command("api", "Seed 1,000,000 frames over 2,000 videos and 10 tenants, then load the frames page and search with wrk.")
        {
            seconds, connections, latencyConnections,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var admin = Environment.GetEnvironmentVariable("ConnectionStrings__Postgres")
                ?? throw new InvalidOperationException("ConnectionStrings__Postgres is not set; run through ./vireo bench api");
            var connection = new NpgsqlConnectionStringBuilder(admin) { Database = Database, CommandTimeout = 0 }.ConnectionString;
            await EnsureSeededAsync(admin, connection, ct);
            await using var dataSource = NpgsqlDataSource.Create(connection);
            var tenant = "bench-3";
            var key = (await new ApiKeyStore(dataSource).CreateAsync(tenant, "bench", ct)).Secret;
            var videos = new List<string>();
            await using (var command = dataSource.CreateCommand("select video_id from videos where tenant_id = $1"))
            {
                command.Parameters.Add(new NpgsqlParameter { Value = tenant });
                await using var reader = await command.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                    videos.Add(reader.GetString(0));
            }

            var folder = CliServices.StateFolder("bench-api");
            using var api = await StartApiAsync(connection, folder, ct);
            var framesScript = "local ids = " + LuaList(videos) + "\n" +
                "request = function() return wrk.format(nil, \"/v1/videos/\" .. ids[math.random(#ids)] .. \"/frames?limit=100\") end";
            var searchScript = "local words = " + LuaList(Words) + "\n" +
                "request = function() return wrk.format(nil, \"/v1/search?limit=20&q=\" .. words[math.random(#words)]) end";
            // A short unmeasured run of each first: the process's JIT and Postgres's cache warm up.
            await WrkAsync(api.Url, key, folder, "warm-frames", framesScript, 3, r.GetValue(connections), ct);
            await WrkAsync(api.Url, key, folder, "warm-search", searchScript, 3, r.GetValue(connections), ct);
            var frames = await WrkAsync(api.Url, key, folder, "frames", framesScript, r.GetValue(seconds), r.GetValue(connections), ct);
            var search = await WrkAsync(api.Url, key, folder, "search", searchScript, r.GetValue(seconds), r.GetValue(connections), ct);
            // Latency as a client sees it when the API is not saturated: at saturation p99 is mostly the queue.
            var light = r.GetValue(latencyConnections);
            var framesLight = await WrkAsync(api.Url, key, folder, "frames-light", framesScript, r.GetValue(seconds), light, ct);
            var searchLight = await WrkAsync(api.Url, key, folder, "search-light", searchScript, r.GetValue(seconds), light, ct);
            Print($"frames page (100 frames with tiles), {r.GetValue(connections)} connections", frames);
            Print($"search (one word, 20 hits, snippets), {r.GetValue(connections)} connections", search);
            Print($"frames page, {light} connections", framesLight);
            Print($"search, {light} connections", searchLight);
            Console.WriteLine(FormattableString.Invariant(
                $"api_rps={frames.Rps:0} api_p99_ms={framesLight.P99:0.0} search_p99_ms={searchLight.P99:0.0} api_p99_saturated_ms={frames.P99:0.0} search_p99_saturated_ms={search.P99:0.0}"));
            return 0;
        });
        return command;
    }

    private static void Print(string what, WrkResult result) =>
        Console.WriteLine(FormattableString.Invariant($"{what}: {result.Rps:0} requests/s, p50 {result.P50:0.0} ms, p99 {result.P99:0.0} ms, {result.Errors} non-2xx"));

    private static string LuaList(IEnumerable<string> items) => "{" + string.Join(",", items.Select(i => "\"" + i + "\"")) + "}";

    private static async Task EnsureSeededAsync(string admin, string connection, CancellationToken ct)
    {
        await using (var server = new NpgsqlConnection(admin))
        {
            await server.OpenAsync(ct);
            await using var exists = new NpgsqlCommand($"select 1 from pg_database where datname = '{Database}'", server);
            if (await exists.ExecuteScalarAsync(ct) is null)
            {
                await using var create = new NpgsqlCommand($"create database {Database}", server);
                await create.ExecuteNonQueryAsync(ct);
            }
        }
        await using var dataSource = NpgsqlDataSource.Create(connection);
        await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(ct);
        await using (var count = dataSource.CreateCommand("select count(*) from frames"))
            if ((long)(await count.ExecuteScalarAsync(ct))! == (long)Videos * FramesPerVideo)
                return;
        Console.WriteLine($"seeding {Database}: {Videos * FramesPerVideo:N0} frames over {Videos:N0} videos and {Tenants} tenants (once)");
        var clock = Stopwatch.StartNew();
        var words = "array[" + string.Join(",", Words.Select(w => $"'{w}'")) + "]";
        // Indexes are built once after the rows are in: faster than keeping them up to date row by row.
        await using var seed = dataSource.CreateCommand($"""
            truncate tenants, videos, frames, frame_tiles, segments, api_keys, api_idempotency cascade;
            drop index if exists frames_search; drop index if exists frames_by_time; drop index if exists frames_by_stored;
            insert into tenants select 'bench-' || t from generate_series(0, {Tenants - 1}) t;
            insert into videos (tenant_id, video_id, source, state, frames_done, frames_expected, progress, frames, tokens_before, tokens_after,
                                duration_s, texts, created_at, updated_at, completed_at)
            select 'bench-' || (v % {Tenants}), 'video-' || v, 'bench/' || v || '.mp4', 'completed', {FramesPerVideo}, {FramesPerVideo}, 1, {FramesPerVideo},
                   {FramesPerVideo}::bigint * 512, {FramesPerVideo}::bigint * 320, {FramesPerVideo} * 0.5, array[]::text[],
                   now() - make_interval(secs => v), now(), now()
            from generate_series(0, {Videos - 1}) v;
            insert into frames (tenant_id, video_id, frame_index, timestamp_s, reasons, caption, text_found, tokens_before, tokens_after,
                                decode_ms, vision_ms, language_ms)
            select 'bench-' || (v % {Tenants}), 'video-' || v, f, f * 0.5, 'interval',
                   w[1 + (v * 7 + f * 3) % {Words.Length}] || ' ' || w[1 + (v * 11 + f * 5) % {Words.Length}] || ' ' || w[1 + (v * 13 + f * 7 + 1) % {Words.Length}]
                     || ' ' || w[1 + (v * 17 + f * 11 + 2) % {Words.Length}] || ' ' || w[1 + (v + f * 13 + 3) % {Words.Length}],
                   case when f % 4 = 0 then w[1 + (v * 19 + f) % {Words.Length}] || ' ' || (f * 37 % 1000) else '' end,
                   512, 320, 1, 10, 20
            from generate_series(0, {Videos - 1}) v, generate_series(0, {FramesPerVideo - 1}) f, (select {words} as w) words;
            insert into frame_tiles (tenant_id, video_id, frame_index, tile, compressed, probability, tokens)
            select tenant_id, video_id, frame_index, t, t = 0, 0.25 + 0.5 * t, case when t = 0 then 64 else 256 end
            from frames, generate_series(0, 1) t;
            create index frames_search on frames using gin (tenant_id, search);
            create index frames_by_time on frames (tenant_id, video_id, timestamp_s);
            create index frames_by_stored on frames (tenant_id, video_id, stored_seq);
            analyze;
            """);
        await seed.ExecuteNonQueryAsync(ct);
        Console.WriteLine($"seeded in {clock.Elapsed.TotalSeconds:0} s");
    }

    private sealed class ApiProcess(Process process, string url) : IDisposable
    {
        public string Url { get; } = url;

        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            process.Dispose();
        }
    }

    private static async Task<ApiProcess> StartApiAsync(string connection, string folder, CancellationToken ct)
    {
        // The CLI runs from services/Vireo.Cli/bin/CONFIGURATION/net10.0; the API was built beside it.
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Vireo.Api", "bin", configuration, "net10.0", "Vireo.Api.dll"));
        if (!File.Exists(dll))
            throw new FileNotFoundException($"{dll} is missing: build first (./vireo build)");
        var urlFile = Path.Combine(folder, "api.url");
        File.Delete(urlFile);
        var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["ConnectionStrings__Postgres"] = connection;
        start.Environment["Http__Port"] = "0";
        start.Environment["Http__UrlFile"] = urlFile;
        start.Environment["Api__RequestsPerSecond"] = "1000000";
        start.Environment["Api__Burst"] = "1000000";
        start.Environment["Api__KeyCacheSeconds"] = "60";
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        try
        {
            while (deadline.Elapsed < TimeSpan.FromSeconds(120))
            {
                if (process.HasExited)
                    throw new InvalidOperationException($"the API exited with {process.ExitCode} while starting");
                if (File.Exists(urlFile))
                {
                    var url = (await File.ReadAllTextAsync(urlFile, ct)).Trim();
                    try
                    {
                        if ((await http.GetAsync(url + "/readyz", ct)).IsSuccessStatusCode)
                            return new ApiProcess(process, url);
                    }
                    // A loaded machine may answer later than the client waits: not ready yet.
                    catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !ct.IsCancellationRequested))
                    {
                    }
                }
                await Task.Delay(200, ct);
            }
            throw new TimeoutException("the API was not ready within 120 s");
        }
        catch
        {
            new ApiProcess(process, "").Dispose();
            throw;
        }
    }

    private sealed record WrkResult(double Rps, double P50, double P99, long Errors);

    private static async Task<WrkResult> WrkAsync(string url, string key, string folder, string name, string script, int seconds, int connections, CancellationToken ct)
    {
        var file = Path.Combine(folder, name + ".lua");
        await File.WriteAllTextAsync(file, $"wrk.headers[\"Authorization\"] = \"Bearer {key}\"\n{script}\n", ct);
        var start = new ProcessStartInfo("wrk", ["-t2", $"-c{connections}", $"-d{seconds}s", "--timeout", "10s", "--latency", "-s", file, url])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("wrk is not installed (apt-get install wrk, or ./vireo install)");
        }
        var output = await process.StandardOutput.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        File.Delete(file);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"wrk failed: {await process.StandardError.ReadToEndAsync(ct)}{output}");
        var rps = double.Parse(RequestsPerSecond().Match(output).Groups[1].Value, CultureInfo.InvariantCulture);
        var errors = NonSuccess().Match(output) is { Success: true } m ? long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        return new WrkResult(rps, Percentile(output, "50%"), Percentile(output, "99%"), errors);
    }

    private static double Percentile(string output, string which)
    {
        var match = Regex.Match(output, $@"^\s+{Regex.Escape(which)}\s+([\d.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch { "us" => value / 1000, "s" => value * 1000, _ => value };
    }

    [GeneratedRegex(@"Requests/sec:\s+([\d.]+)")]
    private static partial Regex RequestsPerSecond();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+(\d+)")]
    private static partial Regex NonSuccess();
}
