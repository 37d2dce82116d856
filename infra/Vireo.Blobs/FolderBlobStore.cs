using System.Security.Cryptography;

namespace Vireo.Blobs;

/// <summary>
/// Objects as files under a root folder: a key is a relative path (see <see cref="BlobKeys"/>), checked again after it
/// is joined to the root. Folders are 700 and files 600. A write goes to a temporary file beside its target and is
/// renamed over it, so a reader sees the old object or the new one, never part of one. A link found along a path
/// (which Vireo never makes) is not followed: reads find nothing there and writes are refused.
/// </summary>
public sealed class FolderBlobStore : IBlobStore
{
    private const UnixFileMode OwnerOnlyFolder = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // '~' appears in no key, so no key names a temporary file.
    private const string TemporaryMarker = "~";

    private readonly string _root;

    public FolderBlobStore(string root)
    {
        _root = Path.GetFullPath(root).TrimEnd('/');
        if (!Directory.Exists(_root))
            CreateFolder(_root);
    }

    public bool Enabled => true;

    /// <summary>The folder the objects are kept in.</summary>
    public string Root => _root;

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        var folder = Path.GetDirectoryName(path)!;
        CreateFolders(folder);
        if (IsLink(path))
            throw new IOException($"blob '{key}' is a link; it is not replaced");
        var temporary = $"{path}{TemporaryMarker}{Guid.NewGuid():N}";
        try
        {
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous, BufferSize = 0 };
            if (!OperatingSystem.IsWindows())
                create.UnixCreateMode = OwnerOnlyFile;
            await using (var file = new FileStream(temporary, create))
            {
                await file.WriteAsync(content, cancellationToken);
            }
            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    public async Task<Blob?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        var path = PathOf(key);
        if (!LinkFree(Path.GetDirectoryName(path)!) || IsLink(path))
            return null;
        byte[] content;
        try
        {
            content = await File.ReadAllBytesAsync(path, cancellationToken);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            // A folder where an object would be is no object either.
            return null;
        }
        return new Blob(content, ETagOf(content));
    }

    public Task<int> DeletePrefixAsync(string prefix, CancellationToken cancellationToken = default)
    {
        BlobKeys.CheckPrefix(prefix);
        var folder = PathOf(prefix[..^1]);
        if (!LinkFree(Path.GetDirectoryName(folder)!))
            return Task.FromResult(0);
        if (IsLink(folder))
        {
            // Only the link goes, never what it points at.
            File.Delete(folder);
            return Task.FromResult(0);
        }
        if (!Directory.Exists(folder))
            return Task.FromResult(0);
        var count = Directory.EnumerateFiles(folder, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Count(f => !Path.GetFileName(f).Contains(TemporaryMarker, StringComparison.Ordinal));
        // Recursive deletion removes links inside the folder without following them.
        Directory.Delete(folder, recursive: true);
        return Task.FromResult(count);
    }

    /// <summary>A strong entity tag from the content itself: the same picture written again keeps its tag.</summary>
    internal static string ETagOf(ReadOnlySpan<byte> content) => $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..32]}\"";

    private string PathOf(string key)
    {
        BlobKeys.Check(key);
        var path = Path.GetFullPath(Path.Join(_root, key));
        // The key check already keeps the path inside; this holds even if that check were ever loosened.
        if (!path.StartsWith(_root + "/", StringComparison.Ordinal))
            throw new ArgumentException("a blob key leads outside the store", nameof(key));
        return path;
    }

    private void CreateFolders(string folder)
    {
        foreach (var current in FoldersDownTo(folder))
        {
            if (IsLink(current))
                throw new IOException($"'{Path.GetRelativePath(_root, current)}' in the blob store is a link; nothing is written through it");
            if (!Directory.Exists(current))
                CreateFolder(current);
        }
    }

    /// <summary>Whether no folder between the root and <paramref name="folder"/> is a link.</summary>
    private bool LinkFree(string folder) => !FoldersDownTo(folder).Any(IsLink);

    /// <summary>Each folder from the one below the root down to <paramref name="folder"/>.</summary>
    private IEnumerable<string> FoldersDownTo(string folder)
    {
        var current = _root;
        foreach (var segment in Path.GetRelativePath(_root, folder).Split('/'))
        {
            if (segment == ".")
                continue;
            current = Path.Join(current, segment);
            yield return current;
        }
    }

    private static void CreateFolder(string path)
    {
        if (OperatingSystem.IsWindows())
            Directory.CreateDirectory(path);
        else
            Directory.CreateDirectory(path, OwnerOnlyFolder);
    }

    private static bool IsLink(string path) => new FileInfo(path).LinkTarget is not null;
}
