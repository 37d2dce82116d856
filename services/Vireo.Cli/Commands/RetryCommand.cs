using System.CommandLine;
using Vireo.Messaging;

namespace Vireo.Cli.Commands;

/// <summary>`vireo retry VIDEO`: restarts a failed or stalled video from its last checkpoint and waits for its end.</summary>
public static class RetryCommand
{
    public static Command Create()
    {
        var video = new Argument<string>("video") { Description = "The video's id." };
        var tenant = new Option<string>("--tenant") { Description = "Tenant the video belongs to.", DefaultValueFactory = _ => "local" };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the video's final state.", DefaultValueFactory = _ => 1800 };
        var command = new Command("retry", "Restart a failed or stalled video from its last checkpoint (a running or completed one is left as it is).")
        {
            video, tenant, timeout,
        };
        command.SetAction(async (ParseResult r, CancellationToken ct) =>
        {
            var key = new VideoKey(r.GetValue(tenant)!, r.GetValue(video)!);
            if (!VideoKey.IsValidId(key.TenantId) || !VideoKey.IsValidId(key.VideoId))
            {
                await Console.Error.WriteLineAsync($"tenant and video ids are each {VideoKey.IdRule}");
                return 2;
            }
            using var session = AnalysisSession.Open();
            var stored = await session.Queries.GetVideoAsync(key, ct);
            if (stored?.Source is not { } source)
            {
                await Console.Error.WriteLineAsync($"video {key} is not known");
                return 2;
            }
            if (stored.State == "completed")
            {
                Console.WriteLine($"video {key} is already completed");
                return 0;
            }
            await session.PublishAsync(new VideoUploaded { VideoId = key.VideoId, TenantId = key.TenantId, Source = source, Retry = true, SubmittedAt = DateTimeOffset.UtcNow }, ct);
            Console.WriteLine($"retry of {key} requested (it was {stored.State})");
            var final = session.Follow(key, _ => { }, TimeSpan.FromSeconds(r.GetValue(timeout)), ct);
            Console.WriteLine(final.State == VideoState.Completed
                ? $"video {key} completed: {final.Result?.Frames} frames (attempt {final.Attempt})"
                : $"video {key} failed again: {final.Reason}");
            return final.State == VideoState.Completed ? 0 : 1;
        });
        return command;
    }
}
