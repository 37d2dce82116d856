using System.Globalization;

namespace Vireo.Cli.Commands.Chaos;

/// <summary>A frame the sampler keeps: its index and its timestamp in seconds.</summary>
public readonly record struct SampledPoint(int Index, double Seconds);

/// <summary>What the benchmark uploaded: the upload, the source it named and the frames sampling the clip gives.</summary>
public sealed record UploadedVideo(ChaosUpload Upload, string Source, IReadOnlyList<SampledPoint> Expected);

/// <summary>A row of <c>videos</c>.</summary>
public sealed record VideoRow(string TenantId, string VideoId, string State, string? Reason, string? Source, int? Frames, int Attempt);

/// <summary>A row of <c>frames</c>.</summary>
public sealed record FrameRow(string TenantId, string VideoId, int Index, double Seconds);

/// <summary>The video a row of another table (segments, frame_tiles) belongs to.</summary>
public sealed record OwnedRow(string Table, string TenantId, string VideoId);

/// <summary>The outcome of a chaos run's check, with one line per video.</summary>
public sealed record ChaosVerdict(int Lost, int Duplicates, int Stuck, int WrongTenant, int Completed, int Failed, IReadOnlyList<string> Lines);

/// <summary>
/// Checks what Postgres holds against what was uploaded. Every video must be completed with each sampled frame
/// stored exactly once, or failed with a reason; anything else is stuck. A frame is matched by index and timestamp:
/// a row that is not one of its clip's sampled frames is a duplicate (a frame stored again under another index) unless
/// it is a frame of the clip that another tenant uploaded under the same video id, which makes it a wrong-tenant
/// row, as is any row of a (tenant, video) that was never uploaded and any video row naming another upload's source.
/// </summary>
public static class ChaosCheck
{
    private const double TimestampTolerance = 0.002;

    public static ChaosVerdict Run(IReadOnlyList<UploadedVideo> uploads, IReadOnlyList<VideoRow> videos, IReadOnlyList<FrameRow> frames, IReadOnlyList<OwnedRow> others)
    {
        var byKey = uploads.ToDictionary(u => u.Upload.Key);
        var byVideoId = uploads.ToLookup(u => u.Upload.VideoId);
        int lost = 0, duplicates = 0, stuck = 0, wrong = 0, completed = 0, failed = 0;
        var lines = new List<string>();

        foreach (var row in videos)
        {
            if (!byKey.TryGetValue($"{row.TenantId}/{row.VideoId}", out var upload))
            {
                wrong++;
                lines.Add($"wrong tenant: video row {row.TenantId}/{row.VideoId} was never uploaded");
            }
            else if (row.Source != upload.Source)
            {
                wrong++;
                lines.Add($"wrong tenant: video row {row.TenantId}/{row.VideoId} names source {row.Source}, uploaded as {upload.Source}");
            }
        }
        foreach (var row in others.Where(o => !byKey.ContainsKey($"{o.TenantId}/{o.VideoId}")))
        {
            wrong++;
            lines.Add($"wrong tenant: {row.Table} row of {row.TenantId}/{row.VideoId}, which was never uploaded");
        }

        var stored = frames.ToLookup(f => $"{f.TenantId}/{f.VideoId}");
        foreach (var row in frames.Where(f => !byKey.ContainsKey($"{f.TenantId}/{f.VideoId}")))
        {
            wrong++;
            lines.Add($"wrong tenant: frame {row.Index} of {row.TenantId}/{row.VideoId}, which was never uploaded");
        }

        var videoRows = videos.ToDictionary(v => $"{v.TenantId}/{v.VideoId}");
        foreach (var video in uploads)
        {
            var key = video.Upload.Key;
            var rows = stored[key].ToList();
            var matched = new HashSet<int>();
            foreach (var group in rows.GroupBy(r => r.Index))
            {
                duplicates += group.Count() - 1;
                var row = group.First();
                if (Matches(video.Expected, row))
                {
                    matched.Add(row.Index);
                }
                else if (byVideoId[video.Upload.VideoId].Any(other => other != video && Matches(other.Expected, row)))
                {
                    wrong++;
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"wrong tenant: frame {row.Index} at {row.Seconds:0.000} s of {key} is a frame of another tenant's clip"));
                }
                else
                {
                    duplicates++;
                    lines.Add(string.Create(CultureInfo.InvariantCulture, $"duplicate: frame {row.Index} at {row.Seconds:0.000} s of {key} is not one of its clip's sampled frames"));
                }
            }

            videoRows.TryGetValue(key, out var state);
            string verdict;
            switch (state)
            {
                case { State: "completed" }:
                    completed++;
                    var missingHere = video.Expected.Count(p => !matched.Contains(p.Index));
                    lost += missingHere;
                    verdict = missingHere == 0 ? "ok" : $"{missingHere} frames lost";
                    if (state.Frames != video.Expected.Count)
                        verdict += $", result counts {state.Frames} frames";
                    break;
                case { State: "failed", Reason.Length: > 0 }:
                    failed++;
                    verdict = $"failed: {state.Reason}";
                    break;
                case { State: "failed" }:
                    stuck++;
                    verdict = "failed without a reason";
                    break;
                case null:
                    stuck++;
                    verdict = "stuck: no row";
                    break;
                default:
                    stuck++;
                    verdict = $"stuck: {state.State}";
                    break;
            }
            lines.Add(string.Create(CultureInfo.InvariantCulture,
                $"{key,-28} clip {video.Upload.Clip} at {video.Upload.Fps} fps: {video.Expected.Count} expected, {rows.Count} stored, {state?.State ?? "-"} (attempt {state?.Attempt ?? 0}): {verdict}"));
        }
        return new ChaosVerdict(lost, duplicates, stuck, wrong, completed, failed, lines);
    }

    private static bool Matches(IReadOnlyList<SampledPoint> expected, FrameRow row) =>
        expected.Any(p => p.Index == row.Index && Math.Abs(p.Seconds - row.Seconds) <= TimestampTolerance);
}
