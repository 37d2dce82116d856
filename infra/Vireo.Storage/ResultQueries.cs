using Npgsql;

namespace Vireo.Storage;

/// <summary>A video as stored.</summary>
public sealed record StoredVideo(
    string VideoId,
    string TenantId,
    string State,
    string? Source,
    string? Reason,
    int FramesDone,
    int? FramesExpected,
    int FramesStored,
    long? TokensBefore,
    long? TokensAfter,
    double? DurationSeconds,
    IReadOnlyList<string> Texts,
    int TextsOmitted,
    DateTimeOffset CreatedAt,
    DateTimeOffset? CompletedAt);

/// <summary>A timeline segment as stored.</summary>
public sealed record StoredSegment(int Index, double StartSeconds, double EndSeconds, int FirstFrame, int LastFrame, string Caption, IReadOnlyList<string> Texts);

/// <summary>Reads results back: what the CLI prints and the results API serves.</summary>
public sealed class ResultQueries(NpgsqlDataSource dataSource)
{
    public async Task<StoredVideo?> GetVideoAsync(VideoKey video, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            select v.video_id, v.tenant_id, v.state, v.source, v.reason, v.frames_done, v.frames_expected,
                   (select count(*) from frames f where f.tenant_id = v.tenant_id and f.video_id = v.video_id)::int,
                   v.tokens_before, v.tokens_after, v.duration_s, coalesce(v.texts, '{}'), v.created_at, v.completed_at, v.texts_omitted
            from videos v where v.tenant_id = $1 and v.video_id = $2
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = video.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = video.VideoId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new StoredVideo(
            reader.GetString(0), reader.GetString(1), reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetString(4),
            reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetInt32(6), reader.GetInt32(7),
            reader.IsDBNull(8) ? null : reader.GetInt64(8), reader.IsDBNull(9) ? null : reader.GetInt64(9),
            reader.IsDBNull(10) ? null : reader.GetDouble(10), reader.GetFieldValue<string[]>(11), reader.GetInt32(14),
            reader.GetFieldValue<DateTimeOffset>(12), reader.IsDBNull(13) ? null : reader.GetFieldValue<DateTimeOffset>(13));
    }

    public async Task<IReadOnlyList<StoredSegment>> GetSegmentsAsync(VideoKey video, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand("""
            select (row_number() over (order by first_frame))::int - 1, start_s, end_s, first_frame, last_frame, caption, texts
            from segments where tenant_id = $1 and video_id = $2 order by first_frame
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = video.TenantId });
        command.Parameters.Add(new NpgsqlParameter { Value = video.VideoId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var segments = new List<StoredSegment>();
        while (await reader.ReadAsync(cancellationToken))
            segments.Add(new StoredSegment(reader.GetInt32(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetInt32(3),
                reader.GetInt32(4), reader.GetString(5), reader.GetFieldValue<string[]>(6)));
        return segments;
    }
}
