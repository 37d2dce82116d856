using System.Text;

namespace Vireo.Blobs.Tests;

/// <summary>The folder store on a real file system: what it keeps, where, and what it refuses.</summary>
public sealed class FolderBlobStoreTests : IDisposable
{
    private readonly string _scratch = Directory.CreateTempSubdirectory("vireo-blobs-").FullName;
    private readonly string _root;
    private readonly string _outside;
    private readonly FolderBlobStore _store;

    public FolderBlobStoreTests()
    {
        _root = Path.Combine(_scratch, "root");
        _outside = Path.Combine(_scratch, "outside");
        Directory.CreateDirectory(_outside);
        _store = new FolderBlobStore(_root);
    }

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public async Task AnObjectReadsBackAsWrittenPrivateToItsOwnerWithATagThatFollowsItsContent()
    {
        var key = FrameThumbnails.Key("acme", "video-1", 7);
        await _store.PutAsync(key, Bytes("first"), FrameThumbnails.ContentType);
        var first = await _store.GetAsync(key);
        Assert.Equal("first", Encoding.UTF8.GetString(first!.Content));

        var file = Path.Combine(_root, key);
        Assert.True(File.Exists(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(file)!));

        await _store.PutAsync(key, Bytes("second"), FrameThumbnails.ContentType);
        var second = await _store.GetAsync(key);
        Assert.Equal("second", Encoding.UTF8.GetString(second!.Content));
        Assert.NotEqual(first.ETag, second.ETag);
        await _store.PutAsync(key, Bytes("second"), FrameThumbnails.ContentType);
        Assert.Equal(second.ETag, (await _store.GetAsync(key))!.ETag);
        Assert.Null(await _store.GetAsync(FrameThumbnails.Key("acme", "video-1", 8)));
    }

    [Theory]
    [InlineData("../outside/x")]
    [InlineData("a/../../outside/x")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("a/./b")]
    [InlineData("a/")]
    [InlineData("..")]
    [InlineData(".")]
    [InlineData("a\\..\\b")]
    [InlineData("a\0b")]
    [InlineData("a b")]
    [InlineData("ä")]
    [InlineData("a\n")]
    [InlineData("a/b\n")]
    [InlineData("")]
    public async Task HostileKeysAreRefusedBeforeAnythingIsTouched(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(key, Bytes("x"), "text/plain"));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.GetAsync(key));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_outside));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root));
    }

    [Fact]
    public async Task OverlongKeysAndSegmentsAreRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(new string('a', 256), Bytes("x"), "text/plain"));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.PutAsync(string.Join('/', Enumerable.Repeat("abcdefgh", 120)), Bytes("x"), "text/plain"));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.GetAsync(new string('a', 10_000)));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_root));
    }

    [Fact]
    public async Task IdsMadeOfDotsStillNameAFolderInsideTheStore()
    {
        var key = FrameThumbnails.Key("..", "..", 0);
        await _store.PutAsync(key, Bytes("dots"), FrameThumbnails.ContentType);
        Assert.Equal("dots", Encoding.UTF8.GetString((await _store.GetAsync(key))!.Content));
        Assert.True(File.Exists(Path.Combine(_root, "thumbnails", "t-..", "v-..", "0.jpg")));
        Assert.Equal(1, await _store.DeletePrefixAsync(FrameThumbnails.VideoPrefix("..", "..")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(_outside));
    }

    [Fact]
    public async Task LinksPlantedInTheStoreAreNeitherFollowedNorWrittenThrough()
    {
        await File.WriteAllTextAsync(Path.Combine(_outside, "0.jpg"), "secret");
        Directory.CreateDirectory(Path.Combine(_root, "thumbnails", "t-acme"));
        Directory.CreateSymbolicLink(Path.Combine(_root, "thumbnails", "t-acme", "v-linked"), _outside);
        File.CreateSymbolicLink(Path.Combine(_root, "thumbnails", "t-acme", "file.jpg"), Path.Combine(_outside, "0.jpg"));

        Assert.Null(await _store.GetAsync(FrameThumbnails.Key("acme", "linked", 0)));
        Assert.Null(await _store.GetAsync("thumbnails/t-acme/file.jpg"));
        await Assert.ThrowsAsync<IOException>(() => _store.PutAsync(FrameThumbnails.Key("acme", "linked", 1), Bytes("x"), FrameThumbnails.ContentType));
        await Assert.ThrowsAsync<IOException>(() => _store.PutAsync("thumbnails/t-acme/file.jpg", Bytes("x"), FrameThumbnails.ContentType));
        Assert.Equal(0, await _store.DeletePrefixAsync(FrameThumbnails.VideoPrefix("acme", "linked")));

        Assert.Equal(["0.jpg"], Directory.EnumerateFileSystemEntries(_outside).Select(Path.GetFileName));
        Assert.Equal("secret", await File.ReadAllTextAsync(Path.Combine(_outside, "0.jpg")));
        Assert.False(Directory.Exists(Path.Combine(_root, "thumbnails", "t-acme", "v-linked")));
    }

    [Fact]
    public async Task DeletingAVideosPrefixRemovesItsObjectsAndNoOthers()
    {
        for (var i = 0; i < 12; i++)
            await _store.PutAsync(FrameThumbnails.Key("acme", "a", i), Bytes($"a{i}"), FrameThumbnails.ContentType);
        await _store.PutAsync(FrameThumbnails.Key("acme", "ab", 0), Bytes("ab"), FrameThumbnails.ContentType);
        await _store.PutAsync(FrameThumbnails.Key("other", "a", 0), Bytes("other"), FrameThumbnails.ContentType);

        Assert.Equal(12, await _store.DeletePrefixAsync(FrameThumbnails.VideoPrefix("acme", "a")));
        Assert.Null(await _store.GetAsync(FrameThumbnails.Key("acme", "a", 3)));
        Assert.NotNull(await _store.GetAsync(FrameThumbnails.Key("acme", "ab", 0)));
        Assert.NotNull(await _store.GetAsync(FrameThumbnails.Key("other", "a", 0)));
        Assert.Equal(0, await _store.DeletePrefixAsync(FrameThumbnails.VideoPrefix("acme", "a")));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.DeletePrefixAsync("thumbnails/t-acme/v-a"));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.DeletePrefixAsync("../"));
        await Assert.ThrowsAsync<ArgumentException>(() => _store.DeletePrefixAsync("/"));
    }

    [Fact]
    public async Task ConcurrentWritersOfOneKeyLeaveOneWholeObjectAndNoTemporaryFiles()
    {
        var key = FrameThumbnails.Key("acme", "v", 0);
        var contents = Enumerable.Range(0, 16).Select(i => Enumerable.Repeat((byte)i, 256 * 1024).ToArray()).ToArray();
        var readers = Task.Run(async () =>
        {
            for (var n = 0; n < 200; n++)
            {
                if (await _store.GetAsync(key) is { } blob)
                    Assert.True(blob.Content.Length == 256 * 1024 && blob.Content.All(b => b == blob.Content[0]), "a reader saw part of an object");
            }
        });
        await Task.WhenAll(contents.Select(c => Task.Run(() => _store.PutAsync(key, c, FrameThumbnails.ContentType))).Append(readers));

        var final = (await _store.GetAsync(key))!.Content;
        Assert.Contains(contents, c => c.AsSpan().SequenceEqual(final));
        Assert.Equal(["0.jpg"], Directory.EnumerateFileSystemEntries(Path.GetDirectoryName(Path.Combine(_root, key))!).Select(Path.GetFileName));
    }
}
