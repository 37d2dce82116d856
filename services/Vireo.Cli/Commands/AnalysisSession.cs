using System.Diagnostics;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Vireo.Messaging;
using Vireo.Storage;

namespace Vireo.Cli.Commands;

/// <summary>
/// Submits one video to the running pipeline the way any producer would (an upload event on Kafka) and follows it:
/// status events as they come, then the stored result once it is queryable in Postgres.
/// </summary>
internal sealed class AnalysisSession : IDisposable
{
    private readonly ServiceProvider _services;
    private readonly IConsumer<string, byte[]> _status;

    private AnalysisSession(ServiceProvider services, IConsumer<string, byte[]> status)
    {
        _services = services;
        _status = status;
    }

    public ResultQueries Queries => _services.GetRequiredService<ResultQueries>();

    /// <summary>The Postgres database the sink writes to, for queries of a command's own.</summary>
    public Npgsql.NpgsqlDataSource Database => _services.GetRequiredService<Npgsql.NpgsqlDataSource>();

    /// <summary>Connects and positions a status reader at the end of the topic, so no event of a new video is missed.</summary>
    public static AnalysisSession Open()
    {
        var services = CliServices.Build(s => s.AddVireoMessaging().AddVireoStorage());
        return new AnalysisSession(services, TailOf(services, VireoTopics.VideoStatus));
    }

    /// <summary>A reader of a pipeline topic positioned at its current end, with no group of its own.</summary>
    public IConsumer<string, byte[]> Tail(string topic) => TailOf(_services, topic);

    private static IConsumer<string, byte[]> TailOf(ServiceProvider services, string logicalTopic)
    {
        var kafka = services.GetRequiredService<IOptions<KafkaOptions>>().Value;
        var bootstrap = kafka.ResolveBootstrapServers();
        var topicName = kafka.Topic(logicalTopic);
        var consumer = new ConsumerBuilder<string, byte[]>(kafka.Secure(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "vireo-cli-" + Guid.NewGuid().ToString("N"),
            EnableAutoCommit = false,
        })).Build();
        using var admin = new AdminClientBuilder(kafka.Secure(new AdminClientConfig { BootstrapServers = bootstrap })).Build();
        var topic = admin.GetMetadata(topicName, TimeSpan.FromSeconds(10)).Topics.Single();
        consumer.Assign(topic.Partitions.Select(p =>
        {
            var partition = new TopicPartition(topicName, p.PartitionId);
            return new TopicPartitionOffset(partition, consumer.QueryWatermarkOffsets(partition, TimeSpan.FromSeconds(10)).High);
        }));
        return consumer;
    }

    /// <summary>Puts a file under the media root (a hard link where possible, else a copy) and returns its relative path.</summary>
    public string Stage(string file, string videoId) =>
        Stage(_services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()["Pipeline:MediaRoot"] ?? CliServices.StateFolder("media"), file, videoId);

    /// <summary>
    /// Stages a file under the given media root. The uploads folder is 700 and a staged file 600: uploads are private
    /// to the user the pipeline runs as.
    /// </summary>
    internal static string Stage(string mediaRoot, string file, string videoId)
    {
        var root = Path.GetFullPath(mediaRoot).TrimEnd('/') + "/";
        var full = Path.GetFullPath(file);
        if (full.StartsWith(root, StringComparison.Ordinal))
            return full[root.Length..];
        var relative = Path.Combine("uploads", videoId + Path.GetExtension(full).ToLowerInvariant());
        var target = Path.Combine(root, relative);
        var uploads = Path.GetDirectoryName(target)!;
        // CreateDirectory gives the mode to the last folder only, so a media root made here is made first.
        if (!Directory.Exists(root))
            Directory.CreateDirectory(root, OwnerOnlyFolder);
        Directory.CreateDirectory(uploads, OwnerOnlyFolder);
        File.SetUnixFileMode(uploads, OwnerOnlyFolder);
        // A hard link shares the source's inode and so its mode: linking a file others may read would leave the staged
        // upload readable, and tightening it would change the user's own file. Such a file is copied instead.
        if (!IsOwnerOnly(full) || !HardLink(full, target))
            CopyPrivately(full, target);
        return relative;
    }

    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static bool IsOwnerOnly(string file) => (File.GetUnixFileMode(file) & ~OwnerOnlyFolder) == 0;

    /// <summary>Copies into a file created with mode 600, so the copy is never readable by others, not even while it is written.</summary>
    private static void CopyPrivately(string source, string target)
    {
        File.Delete(target);
        using var from = File.OpenRead(source);
        using var to = new FileStream(target, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnlyFile });
        from.CopyTo(to);
    }

    public Task PublishAsync(VideoUploaded upload, CancellationToken cancellationToken) =>
        _services.GetRequiredService<EventPublisher>().PublishAsync(VireoTopics.VideoUploaded, upload.Key.ToString(), upload, cancellationToken);

    /// <summary>Follows a video's status events until it completes or fails.</summary>
    public VideoStatusChanged Follow(VideoKey video, Action<VideoStatusChanged> onStatus, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var key = video.ToString();
        var clock = Stopwatch.StartNew();
        long seen = 0;
        while (clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var record = _status.Consume(TimeSpan.FromMilliseconds(250));
            if (record?.Message is null || record.Message.Key != key)
                continue;
            var decoded = EventCodec.Deserialize<VideoStatusChanged>(record.Message.Value, VideoStatusChanged.CurrentVersion, s => s.Version);
            if (!decoded.Ok || decoded.Event!.Sequence <= seen)
                continue;
            seen = decoded.Event.Sequence;
            onStatus(decoded.Event);
            if (decoded.Event.State is VideoState.Completed or VideoState.Failed)
                return decoded.Event;
        }
        throw new TimeoutException($"video {video} did not finish within {timeout.TotalSeconds:0} s");
    }

    /// <summary>Waits until Postgres holds the video's final state and all its frames.</summary>
    public async Task<StoredVideo> WaitStoredAsync(VideoKey video, int frames, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var stored = await Queries.GetVideoAsync(video, cancellationToken);
            if (stored is { State: "completed" or "failed" } && stored.FramesStored >= frames)
                return stored;
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"video {video} was not fully stored in Postgres within {timeout.TotalSeconds:0} s");
            await Task.Delay(50, cancellationToken);
        }
    }

    public void Dispose()
    {
        _status.Close();
        _status.Dispose();
        _services.Dispose();
    }

    private static bool HardLink(string source, string target)
    {
        if (File.Exists(target)) File.Delete(target);
        try
        {
            using var process = Process.Start(new ProcessStartInfo("ln", [source, target]) { RedirectStandardError = true })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
