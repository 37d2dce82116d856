namespace Vireo.Blobs;

/// <summary>
/// Small binary objects (frame thumbnails) under '/'-separated keys: a folder on the local stack, any S3-compatible
/// store in production. Keys are checked by <see cref="BlobKeys"/>; a key that fails the check is refused with an
/// <see cref="ArgumentException"/> before anything is read or written.
/// </summary>
public interface IBlobStore
{
    /// <summary>Whether objects are kept at all; false for <see cref="BlobStoreKind.None"/>, where writers need not encode anything.</summary>
    bool Enabled { get; }

    /// <summary>Writes an object whole, replacing any object under the same key; a reader never sees half of it.</summary>
    Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default);

    /// <summary>The object under <paramref name="key"/>, or null when there is none.</summary>
    Task<Blob?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deletes every object whose key starts with <paramref name="prefix"/>, a folder-like prefix ending in '/'.
    /// Returns how many were deleted; deleting what is not there is no error.
    /// </summary>
    Task<int> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default);
}

/// <summary>An object read back: its bytes and a strong entity tag that changes whenever the bytes do.</summary>
public sealed record Blob(byte[] Content, string ETag);

/// <summary>Where objects are kept (configuration key Blobs:Kind).</summary>
public enum BlobStoreKind
{
    /// <summary>Nowhere: writes are dropped and reads find nothing (thumbnails are off).</summary>
    None,

    /// <summary>A folder of this machine or a shared volume (Blobs:Root).</summary>
    Folder,

    /// <summary>An S3-compatible object store (Blobs:S3:*).</summary>
    S3,
}

/// <summary>The store of <see cref="BlobStoreKind.None"/>.</summary>
public sealed class NoBlobStore : IBlobStore
{
    public static NoBlobStore Instance { get; } = new();

    public bool Enabled => false;

    public Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default)
    {
        BlobKeys.Check(key);
        return Task.CompletedTask;
    }

    public Task<Blob?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        BlobKeys.Check(key);
        return Task.FromResult<Blob?>(null);
    }

    public Task<int> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        BlobKeys.CheckPrefix(prefix);
        return Task.FromResult(0);
    }
}
