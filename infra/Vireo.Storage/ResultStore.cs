using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using Vireo.Messaging;

namespace Vireo.Storage;

/// <summary>
/// Writes the pipeline's results. Every write is an idempotent upsert: frames are unique by (video, frame index),
/// and a status only replaces one with a lower sequence number, so replayed records change nothing.
/// </summary>
public sealed class ResultStore(NpgsqlDataSource dataSource)
{
    /// <summary>Writes a batch of frames and status changes in one transaction.</summary>
    public async Task WriteAsync(IReadOnlyList<FrameAnalyzed> frames, IReadOnlyList<VideoStatusChanged> statuses, CancellationToken cancellationToken = default)
    {
        if (frames.Count == 0 && statuses.Count == 0)
            return;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await EnsureVideosAsync(connection, transaction,
            frames.Select(f => (f.Key, (string?)null)).Concat(statuses.Select(s => (s.Key, s.Source))), cancellationToken);
        if (frames.Count > 0)
            await InsertFramesAsync(connection, transaction, frames, cancellationToken);
        foreach (var status in statuses.OrderBy(s => s.Sequence))
            await ApplyStatusAsync(connection, transaction, status, cancellationToken);
        var segments = statuses.Where(s => s.Segment is not null).Select(s => (s.Key, s.Segment!)).ToArray();
        if (segments.Length > 0)
            await InsertSegmentsAsync(connection, transaction, segments, cancellationToken);
        if (frames.Count > 0)
            await PromoteFinishedAsync(connection, transaction, frames.Select(f => f.Key).Distinct().ToArray(), cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>What is stored of each video, for checking records against what its grain can have sent; unknown videos are absent.</summary>
    public async Task<IReadOnlyDictionary<VideoKey, StoredProgress>> ProgressAsync(IReadOnlyCollection<VideoKey> videos, CancellationToken cancellationToken = default)
    {
        var progress = new Dictionary<VideoKey, StoredProgress>();
        if (videos.Count == 0)
            return progress;
        await using var command = dataSource.CreateCommand("""
            select v.tenant_id, v.video_id, v.status_sequence, v.state, v.frames
            from videos v join unnest($1::text[], $2::text[]) as k(tenant_id, video_id) using (tenant_id, video_id)
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = videos.Select(v => v.TenantId).ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = videos.Select(v => v.VideoId).ToArray() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            progress[new VideoKey(reader.GetString(0), reader.GetString(1))] =
                new StoredProgress(reader.GetInt64(2), reader.GetString(3), reader.IsDBNull(4) ? null : reader.GetInt32(4));
        return progress;
    }

    private static async Task EnsureVideosAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IEnumerable<(VideoKey Key, string? Source)> videos, CancellationToken cancellationToken)
    {
        var distinct = videos.DistinctBy(v => v.Key).ToArray();
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            insert into tenants (tenant_id) select distinct unnest($1::text[]) on conflict do nothing
            """, [distinct.Select(v => v.Key.TenantId).ToArray()]));
        batch.BatchCommands.Add(Command("""
            insert into videos (video_id, tenant_id, source, state)
            select v, t, s, 'accepted' from unnest($1::text[], $2::text[], $3::text[]) as x(v, t, s)
            on conflict (tenant_id, video_id) do nothing
            """, [distinct.Select(v => v.Key.VideoId).ToArray(), distinct.Select(v => v.Key.TenantId).ToArray(), distinct.Select(v => v.Source).ToArray()]));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task InsertFramesAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IReadOnlyList<FrameAnalyzed> frames, CancellationToken cancellationToken)
    {
        var unique = frames.DistinctBy(f => (f.Key, f.FrameIndex)).ToArray();
        var tiles = unique.SelectMany(f => f.Tiles.Select(t => (f.TenantId, f.VideoId, f.FrameIndex, Tile: t))).ToArray();
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            insert into frames (video_id, frame_index, tenant_id, timestamp_s, reasons, caption, text_found,
                                tokens_before, tokens_after, decode_ms, vision_ms, language_ms, media_silo, vision_silo, language_silo, model,
                                text_confidence)
            select v, i, t, ts, r, c, tx, tb, ta, dm, vm, lm, ms, vs, ls, m::jsonb, tc
            from unnest($1::text[], $2::int[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[],
                        $8::int[], $9::int[], $10::real[], $11::real[], $12::real[], $13::text[], $14::text[], $15::text[], $16::text[],
                        $17::real[])
                 as x(v, i, t, ts, r, c, tx, tb, ta, dm, vm, lm, ms, vs, ls, m, tc)
            on conflict (tenant_id, video_id, frame_index) do nothing
            """, [unique.Select(f => f.VideoId).ToArray(), unique.Select(f => f.FrameIndex).ToArray(), unique.Select(f => f.TenantId).ToArray(),
            unique.Select(f => f.TimestampSeconds).ToArray(), unique.Select(f => f.Reasons).ToArray(), unique.Select(f => f.Caption).ToArray(),
            unique.Select(f => f.Text).ToArray(), unique.Select(f => f.TokensBefore).ToArray(), unique.Select(f => f.TokensAfter).ToArray(),
            unique.Select(f => (float)f.Timings.DecodeMs).ToArray(), unique.Select(f => (float)f.Timings.VisionMs).ToArray(),
            unique.Select(f => (float)f.Timings.LanguageMs).ToArray(), unique.Select(f => f.Placement?.Media).ToArray(),
            unique.Select(f => f.Placement?.Vision).ToArray(), unique.Select(f => f.Placement?.Language).ToArray(),
            unique.Select(f => f.Model is { } model ? JsonSerializer.Serialize(model, VireoJsonContext.Default.FrameModel) : null).ToArray(),
            unique.Select(f => (float?)f.TextConfidence).ToArray()]));
        batch.BatchCommands.Add(Command("""
            insert into frame_tiles (tenant_id, video_id, frame_index, tile, compressed, probability, tokens)
            select * from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::bool[], $6::real[], $7::int[])
            on conflict do nothing
            """, [tiles.Select(t => t.TenantId).ToArray(), tiles.Select(t => t.VideoId).ToArray(), tiles.Select(t => t.FrameIndex).ToArray(),
            tiles.Select(t => t.Tile.Tile).ToArray(), tiles.Select(t => t.Tile.Compressed).ToArray(), tiles.Select(t => (float)t.Tile.Probability).ToArray(),
            tiles.Select(t => t.Tile.Tokens).ToArray()]));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task ApplyStatusAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, VideoStatusChanged s, CancellationToken cancellationToken)
    {
        var state = s.State switch
        {
            VideoState.Accepted => "accepted",
            VideoState.Processing => "processing",
            VideoState.Completed => "completed",
            _ => "failed",
        };
        var result = s.Result;
        // A status replaces only an older one of the same attempt, and never a final one: once a video completed or
        // failed, only a newer attempt (a retry) moves it again. 'completed' waits as 'finishing' until every frame
        // it counts is stored.
        await using var update = new NpgsqlCommand("""
            with stored as (select count(*) as frames from frames f where f.tenant_id = $1 and f.video_id = $2)
            update videos set status_sequence = $4, attempt = $15,
                state = case when $3 = 'completed' and (select frames from stored) < coalesce($11, 0)
                             then 'finishing' else $3 end, source = coalesce($5, source), frames_done = $6,
                frames_expected = $7, progress = $8, reason = $9, updated_at = $10,
                completed_at = case when $3 = 'failed' or ($3 = 'completed' and (select frames from stored) >= coalesce($11, 0))
                                    then $10 when $15 > attempt then null else completed_at end,
                frames = coalesce($11, frames), tokens_before = coalesce($12, tokens_before),
                tokens_after = coalesce($13, tokens_after), duration_s = coalesce($14, duration_s), texts = coalesce($16, texts),
                texts_omitted = coalesce($17, texts_omitted)
            where tenant_id = $1 and video_id = $2 and status_sequence < $4
              and ($15 > attempt or ($15 = attempt and state not in ('completed', 'failed')))
            """, connection, transaction);
        update.Parameters.Add(new() { Value = s.TenantId });
        update.Parameters.Add(new() { Value = s.VideoId });
        update.Parameters.Add(new() { Value = state });
        update.Parameters.Add(new() { Value = s.Sequence });
        update.Parameters.Add(new() { Value = (object?)s.Source ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = s.FramesDone });
        update.Parameters.Add(new() { Value = (object?)s.FramesExpected ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = (float)s.Progress });
        update.Parameters.Add(new() { Value = (object?)s.Reason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = s.At == default ? DateTimeOffset.UtcNow : s.At.ToUniversalTime() });
        update.Parameters.Add(new() { Value = (object?)result?.Frames ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        update.Parameters.Add(new() { Value = (object?)result?.TokensBefore ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        update.Parameters.Add(new() { Value = (object?)result?.TokensAfter ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Bigint });
        update.Parameters.Add(new() { Value = (object?)result?.DurationSeconds ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Double });
        update.Parameters.Add(new() { Value = s.Attempt });
        update.Parameters.Add(new() { Value = (object?)result?.Texts.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
        update.Parameters.Add(new() { Value = (object?)result?.TextsOmitted ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    // A segment is a fact about the video that does not depend on which status is current, so it is stored even when
    // its event is older than the video's state; replays find it there already.
    private static async Task InsertSegmentsAsync(NpgsqlConnection connection, NpgsqlTransaction transaction,
        IReadOnlyList<(VideoKey Key, TimelineSegment Segment)> segments, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(Command("""
            insert into segments (tenant_id, video_id, start_s, end_s, first_frame, last_frame, caption, texts)
            select t, v, st, en, ff, lf, c, string_to_array(tx, E'\x1f')
            from unnest($8::text[], $1::text[], $2::float8[], $3::float8[], $4::int[], $5::int[], $6::text[], $7::text[]) as x(t, v, st, en, ff, lf, c, tx)
            on conflict (tenant_id, video_id, first_frame) do nothing
            """, [segments.Select(g => g.Key.VideoId).ToArray(), segments.Select(g => g.Segment.StartSeconds).ToArray(),
            segments.Select(g => g.Segment.EndSeconds).ToArray(), segments.Select(g => g.Segment.FirstFrame).ToArray(),
            segments.Select(g => g.Segment.LastFrame).ToArray(), segments.Select(g => g.Segment.Caption).ToArray(),
            segments.Select(g => string.Join('\x1f', g.Segment.Texts)).ToArray(), segments.Select(g => g.Key.TenantId).ToArray()]));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    // A completion that overtook some of its frames (they travel on another topic) is held as 'finishing' and
    // promoted here once the last of them is stored.
    private static async Task PromoteFinishedAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, VideoKey[] videos, CancellationToken cancellationToken)
    {
        await using var promote = new NpgsqlCommand("""
            update videos v set state = 'completed', completed_at = now(), updated_at = now()
            from unnest($1::text[], $2::text[]) as k(tenant_id, video_id)
            where v.tenant_id = k.tenant_id and v.video_id = k.video_id and v.state = 'finishing'
              and (select count(*) from frames f where f.tenant_id = v.tenant_id and f.video_id = v.video_id) >= coalesce(v.frames, 0)
            """, connection, transaction);
        promote.Parameters.Add(new NpgsqlParameter { Value = videos.Select(v => v.TenantId).ToArray() });
        promote.Parameters.Add(new NpgsqlParameter { Value = videos.Select(v => v.VideoId).ToArray() });
        await promote.ExecuteNonQueryAsync(cancellationToken);
    }

    // Takes the values as one array, never as params: a lone string[] would otherwise bind as the whole list.
    private static NpgsqlBatchCommand Command(string sql, object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
            command.Parameters.Add(new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }
}

/// <summary>A video's stored sequence, state and (once complete) frame count.</summary>
public sealed record StoredProgress(long Sequence, string State, int? Frames);
