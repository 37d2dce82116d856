using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace Vireo.Api.Data;

/// <summary>A video's status row, as an event stream reads it.</summary>
public sealed record VideoStatusRow(string State, long Sequence, double Progress, int FramesDone, int? FramesExpected, int? Frames, string? Reason);

/// <summary>A frame with the order it was stored in, for event streams.</summary>
public sealed record StoredFrame(long StoredSequence, FrameView Frame);

/// <summary>What an Idempotency-Key found: a finished request's video, or a request still under way.</summary>
public abstract record IdempotencyClaim
{
    public sealed record Claimed : IdempotencyClaim;
    /// <summary>The key's upload was accepted as <paramref name="VideoId"/>; <paramref name="Fingerprint"/> is what it carried (null if not recorded).</summary>
    public sealed record Done(string VideoId, byte[]? Fingerprint) : IdempotencyClaim;
    public sealed record InProgress : IdempotencyClaim;
}

/// <summary>The results API's reads and writes, always scoped to one tenant.</summary>
public sealed class VideoRepository(NpgsqlDataSource dataSource)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>Records an accepted upload, so that it is listed before a silo reports on it.</summary>
    public async Task InsertAcceptedAsync(VideoKey video, string source, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("insert into tenants (tenant_id) values ($1) on conflict do nothing", video.TenantId));
        batch.BatchCommands.Add(Command("""
            insert into videos (tenant_id, video_id, source, state) values ($1, $2, $3, 'accepted') on conflict (tenant_id, video_id) do nothing
            """, video.TenantId, video.VideoId, source));
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Takes back an accepted upload whose event could not be published.</summary>
    public async Task RemoveAcceptedAsync(VideoKey video, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, "delete from videos where tenant_id = $1 and video_id = $2 and state = 'accepted' and status_sequence = 0",
            video.TenantId, video.VideoId);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IdempotencyClaim> ClaimAsync(string tenant, string key, CancellationToken cancellationToken)
    {
        await EnsureTenantAsync(tenant, cancellationToken);
        await using var batch = dataSource.CreateBatch();
        // A concurrent claim of the same key waits on the unique index until the first commits, then takes nothing. A claim
        // left unfinished for an hour belonged to a process that died mid-request; it is taken over.
        batch.BatchCommands.Add(Command("""
            with claimed as (
                insert into api_idempotency (tenant_id, idempotency_key) values ($1, $2)
                on conflict (tenant_id, idempotency_key) do update set created_at = now()
                where api_idempotency.video_id is null and api_idempotency.created_at < now() - interval '1 hour'
                returning 1)
            select exists (select from claimed), done.video_id, done.fingerprint
            from (select 1) as one left join api_idempotency as done on done.tenant_id = $1 and done.idempotency_key = $2
            """, tenant, key));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        if (reader.GetBoolean(0))
            return new IdempotencyClaim.Claimed();
        return reader.IsDBNull(1) ? new IdempotencyClaim.InProgress() : new IdempotencyClaim.Done(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2));
    }

    private async Task EnsureTenantAsync(string tenant, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, "insert into tenants (tenant_id) values ($1) on conflict do nothing", tenant);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task CompleteClaimAsync(string tenant, string key, string videoId, byte[] fingerprint, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, "update api_idempotency set video_id = $3, fingerprint = $4 where tenant_id = $1 and idempotency_key = $2",
            tenant, key, videoId, fingerprint);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>Frees a key whose request failed, so that the client can retry it.</summary>
    public async Task ReleaseClaimAsync(string tenant, string key)
    {
        await using var command = Command(dataSource, "delete from api_idempotency where tenant_id = $1 and idempotency_key = $2 and video_id is null", tenant, key);
        await command.ExecuteNonQueryAsync(CancellationToken.None);
    }

    public async Task<VideoPage> ListAsync(string tenant, string? state, DateTimeOffset? since, (DateTimeOffset CreatedAt, string Id)? after, int limit,
        CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, """
            select video_id, state, progress, frames_done, frames_expected, created_at, completed_at
            from videos
            where tenant_id = $1 and ($2::text is null or state = $2) and ($3::timestamptz is null or created_at >= $3)
              and ($4::timestamptz is null or (created_at, video_id) < ($4, $5))
            order by created_at desc, video_id desc
            limit $6
            """, tenant, Typed(state, NpgsqlDbType.Text), Typed(since?.ToUniversalTime(), NpgsqlDbType.TimestampTz), Typed(after?.CreatedAt, NpgsqlDbType.TimestampTz),
            Typed(after?.Id, NpgsqlDbType.Text), limit + 1);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var items = new List<VideoSummary>();
        while (await reader.ReadAsync(cancellationToken))
            items.Add(new VideoSummary(reader.GetString(0), reader.GetString(1), reader.GetFloat(2), reader.GetInt32(3),
                reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.GetFieldValue<DateTimeOffset>(5),
                reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6)));
        if (items.Count <= limit)
            return new VideoPage(items, null);
        items.RemoveAt(limit);
        return new VideoPage(items, Cursors.ForVideo(items[^1].CreatedAt, items[^1].Id));
    }

    public async Task<VideoDetail?> GetAsync(VideoKey video, CancellationToken cancellationToken)
    {
        await using var batch = dataSource.CreateBatch();
        batch.BatchCommands.Add(Command("""
            select v.video_id, v.state, v.progress, v.frames_done, v.frames_expected,
                   (select count(*) from frames f where f.tenant_id = v.tenant_id and f.video_id = v.video_id)::int,
                   v.attempt, v.reason, v.created_at, v.updated_at, v.completed_at, v.frames, v.duration_s, v.tokens_before, v.tokens_after,
                   coalesce(v.texts, '{}'), v.texts_omitted
            from videos v where v.tenant_id = $1 and v.video_id = $2
            """, video.TenantId, video.VideoId));
        batch.BatchCommands.Add(Command("""
            select start_s, end_s, first_frame, last_frame, caption, texts from segments
            where tenant_id = $1 and video_id = $2 order by first_frame
            """, video.TenantId, video.VideoId));
        batch.BatchCommands.Add(Command("""
            select model::text, count(*)::int from frames
            where tenant_id = $1 and video_id = $2 and model is not null
            group by model order by count(*) desc, model::text
            """, video.TenantId, video.VideoId));
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        var state = reader.GetString(1);
        var frames = reader.IsDBNull(11) ? (int?)null : reader.GetInt32(11);
        var before = reader.IsDBNull(13) ? (long?)null : reader.GetInt64(13);
        var after = reader.IsDBNull(14) ? (long?)null : reader.GetInt64(14);
        var texts = reader.GetFieldValue<string[]>(15);
        var textsOmitted = reader.GetInt32(16);
        var detail = new VideoDetail(reader.GetString(0), state, reader.GetFloat(2), reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetInt32(4),
            reader.GetInt32(5), reader.GetInt32(6), reader.IsDBNull(7) ? null : reader.GetString(7), reader.GetFieldValue<DateTimeOffset>(8),
            reader.GetFieldValue<DateTimeOffset>(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10), null);
        var duration = reader.IsDBNull(12) ? (double?)null : reader.GetDouble(12);
        await reader.NextResultAsync(cancellationToken);
        var timeline = new List<TimelineSegmentView>();
        while (await reader.ReadAsync(cancellationToken))
            timeline.Add(new TimelineSegmentView(reader.GetDouble(0), reader.GetDouble(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetString(4),
                reader.GetFieldValue<string[]>(5)));
        await reader.NextResultAsync(cancellationToken);
        var models = new List<ModelRunView>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var model = JsonSerializer.Deserialize<Vireo.Messaging.FrameModel>(reader.GetString(0), Json);
            models.Add(new ModelRunView(model?.Vision, model?.Language, reader.GetInt32(1)));
        }
        if (frames is null && timeline.Count == 0)
            return detail;
        return detail with { Result = new VideoResultView(frames ?? detail.FramesStored, duration, before, after, before - after, texts, textsOmitted, timeline, models) };
    }

    /// <summary>The state of a video of the tenant, or null when it has none by that id.</summary>
    public async Task<string?> StateAsync(VideoKey video, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, "select state from videos where tenant_id = $1 and video_id = $2", video.TenantId, video.VideoId);
        return await command.ExecuteScalarAsync(cancellationToken) as string;
    }

    public async Task<FramePage> FramesAsync(VideoKey video, double? from, double? to, int afterIndex, int limit, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, FrameSelect + """
            where f.tenant_id = $1 and f.video_id = $2 and f.frame_index > $3
              and ($4::float8 is null or f.timestamp_s >= $4) and ($5::float8 is null or f.timestamp_s <= $5)
            order by f.frame_index
            limit $6
            """, video.TenantId, video.VideoId, afterIndex, Typed(from, NpgsqlDbType.Double), Typed(to, NpgsqlDbType.Double), limit + 1);
        var frames = await ReadFramesAsync(command, cancellationToken);
        if (frames.Count <= limit)
            return new FramePage(frames.Select(f => f.Frame).ToList(), null);
        frames.RemoveAt(limit);
        return new FramePage(frames.Select(f => f.Frame).ToList(), Cursors.ForFrame(frames[^1].Frame.Index));
    }

    /// <summary>Frames stored after <paramref name="afterSequence"/>, in the order they were stored.</summary>
    public async Task<List<StoredFrame>> FramesStoredAfterAsync(VideoKey video, long afterSequence, int limit, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, FrameSelect + """
            where f.tenant_id = $1 and f.video_id = $2 and f.stored_seq > $3 order by f.stored_seq limit $4
            """, video.TenantId, video.VideoId, afterSequence, limit);
        return await ReadFramesAsync(command, cancellationToken);
    }

    public async Task<VideoStatusRow?> StatusAsync(VideoKey video, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, """
            select state, status_sequence, progress, frames_done, frames_expected, frames, reason from videos where tenant_id = $1 and video_id = $2
            """, video.TenantId, video.VideoId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
            return null;
        return new VideoStatusRow(reader.GetString(0), reader.GetInt64(1), reader.GetFloat(2), reader.GetInt32(3),
            reader.IsDBNull(4) ? null : reader.GetInt32(4), reader.IsDBNull(5) ? null : reader.GetInt32(5), reader.IsDBNull(6) ? null : reader.GetString(6));
    }

    public async Task<SearchResults> SearchAsync(string tenant, string query, string? videoId, int limit, int candidates, CancellationToken cancellationToken)
    {
        // At most `candidates` matches are ranked, so that a word found in a large share of a tenant's frames costs a
        // bounded amount of work; snippets, the costly part, are made for the returned page only.
        await using var command = Command(dataSource, """
            select m.video_id, m.frame_index, m.timestamp_s, m.rank,
                   ts_headline('simple', m.caption || ' ' || m.text_found, m.q, 'StartSel=<mark>, StopSel=</mark>, MaxWords=24, MinWords=6, MaxFragments=2'),
                   m.caption, m.text_found
            from (
                select c.video_id, c.frame_index, c.timestamp_s, c.caption, c.text_found, c.q, ts_rank(c.search, c.q) as rank
                from (
                    select f.video_id, f.frame_index, f.timestamp_s, f.caption, f.text_found, f.search, q
                    from frames f, websearch_to_tsquery('simple', $2) q
                    where f.tenant_id = $1 and ($3::text is null or f.video_id = $3) and f.search @@ q
                    limit $5) c
                order by rank desc, c.video_id, c.frame_index
                limit $4) m
            order by m.rank desc, m.video_id, m.frame_index
            """, tenant, query, Typed(videoId, NpgsqlDbType.Text), limit, candidates);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var hits = new List<SearchHit>();
        while (await reader.ReadAsync(cancellationToken))
            hits.Add(new SearchHit(reader.GetString(0), reader.GetInt32(1), reader.GetDouble(2), reader.GetFloat(3), reader.GetString(4),
                reader.GetString(5), reader.GetString(6)));
        return new SearchResults(query, hits);
    }

    /// <summary>Whether the tenant has the video, and whether the video has an analysed frame of that index.</summary>
    public async Task<(bool Video, bool Frame)> FrameExistsAsync(VideoKey video, int frameIndex, CancellationToken cancellationToken)
    {
        await using var command = Command(dataSource, """
            select exists (select from videos where tenant_id = $1 and video_id = $2),
                   exists (select from frames where tenant_id = $1 and video_id = $2 and frame_index = $3)
            """, video.TenantId, video.VideoId, frameIndex);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetBoolean(0), reader.GetBoolean(1));
    }

    /// <summary>
    /// Deletes a finished video's rows (frames, tiles and segments go with it) and returns its state and source; null
    /// when there is none. <paramref name="beforeDelete"/> runs while the row is locked, before the rows go; when it
    /// throws, nothing is deleted.
    /// </summary>
    public async Task<(string State, string? Source)?> DeleteAsync(VideoKey video, Func<CancellationToken, Task> beforeDelete, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var select = new NpgsqlCommand("select state, source from videos where tenant_id = $1 and video_id = $2 for update", connection, transaction)
        {
            Parameters = { new() { Value = video.TenantId }, new() { Value = video.VideoId } },
        };
        string state;
        string? source;
        await using (var reader = await select.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
                return null;
            state = reader.GetString(0);
            source = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        if (state is "completed" or "failed")
        {
            await beforeDelete(cancellationToken);
            await using var delete = new NpgsqlBatch(connection, transaction);
            delete.BatchCommands.Add(Command("delete from api_idempotency where tenant_id = $1 and video_id = $2", video.TenantId, video.VideoId));
            delete.BatchCommands.Add(Command("delete from videos where tenant_id = $1 and video_id = $2", video.TenantId, video.VideoId));
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
        return (state, source);
    }

    private const string FrameSelect = """
        select f.stored_seq, f.frame_index, f.timestamp_s, f.reasons, f.caption, f.text_found, f.tokens_before, f.tokens_after, f.text_confidence,
               coalesce((select json_agg(json_build_object('tile', t.tile, 'compressed', t.compressed, 'probability', t.probability, 'tokens', t.tokens)
                                         order by t.tile)
                         from frame_tiles t where t.tenant_id = f.tenant_id and t.video_id = f.video_id and t.frame_index = f.frame_index), '[]')::text
        from frames f

        """;

    private static async Task<List<StoredFrame>> ReadFramesAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var frames = new List<StoredFrame>();
        while (await reader.ReadAsync(cancellationToken))
            frames.Add(new StoredFrame(reader.GetInt64(0), new FrameView(reader.GetInt32(1), reader.GetDouble(2), reader.GetString(3), reader.GetString(4),
                reader.GetString(5), reader.IsDBNull(8) ? null : reader.GetFloat(8), reader.GetInt32(6), reader.GetInt32(7),
                JsonSerializer.Deserialize<List<TileView>>(reader.GetString(9), Json)!)));
        return frames;
    }

    private static NpgsqlParameter Typed(object? value, NpgsqlDbType type) => new() { Value = value ?? DBNull.Value, NpgsqlDbType = type };

    private static NpgsqlBatchCommand Command(string sql, params object?[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }

    private static NpgsqlCommand Command(NpgsqlDataSource source, string sql, params object?[] values)
    {
        var command = source.CreateCommand(sql);
        foreach (var value in values)
            command.Parameters.Add(value as NpgsqlParameter ?? new NpgsqlParameter { Value = value ?? DBNull.Value });
        return command;
    }
}
