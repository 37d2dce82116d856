using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Vireo.Blobs.Tests;

/// <summary>Blobs:* chooses and configures the store, and a setting that cannot work stops the process at start.</summary>
public sealed class BlobOptionsTests
{
    private static IBlobStore StoreFor(params (string Key, string Value)[] settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value))).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddVireoBlobs().BuildServiceProvider();
        return services.GetRequiredService<IBlobStore>();
    }

    private static string[] ProblemsOf(BlobOptions options)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results.Select(r => r.ErrorMessage!).ToArray();
    }

    [Fact]
    public void WithoutSettingsThumbnailsAreOff()
    {
        var store = StoreFor();
        Assert.IsType<NoBlobStore>(store);
        Assert.False(store.Enabled);
    }

    [Fact]
    public void AFolderStoreTakesItsRootAndMakesIt()
    {
        var root = Path.Combine(Path.GetTempPath(), "vireo-blobs-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = Assert.IsType<FolderBlobStore>(StoreFor(("Blobs:Kind", "folder"), ("Blobs:Root", root)));
            Assert.Equal(root, store.Root);
            Assert.True(Directory.Exists(root));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public void AnS3StoreIsBuiltFromItsSettingsWithoutReachingTheStore()
    {
        var secret = Path.GetTempFileName();
        File.WriteAllText(secret, "not-a-real-secret\n");
        try
        {
            using var store = Assert.IsType<S3BlobStore>(StoreFor(("Blobs:Kind", "S3"), ("Blobs:S3:Bucket", "vireo-thumbs"), ("Blobs:S3:Prefix", "prod/"),
                ("Blobs:S3:ServiceUrl", "http://127.0.0.1:9"), ("Blobs:S3:AccessKeyId", "vireo"), ("Blobs:S3:SecretAccessKeyFile", secret)));
            Assert.Equal("vireo-thumbs", store.Bucket);
            Assert.Equal("prod/thumbnails/t-a/v-b/3.jpg", store.ObjectKey(FrameThumbnails.Key("a", "b", 3)));
            Assert.Throws<ArgumentException>(() => store.ObjectKey("../escape"));
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public void SettingsThatCannotWorkAreNamed()
    {
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.Folder }), p => p.Contains("Blobs:Root"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.Folder, Root = "relative/thumbs" }), p => p.Contains("Blobs:Root"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3 }), p => p.Contains("Bucket"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "Not_A_Bucket" } }), p => p.Contains("Bucket"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket", Prefix = "../" } }), p => p.Contains("Prefix"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket", ServiceUrl = "ftp://store" } }), p => p.Contains("ServiceUrl"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket", AccessKeyId = "id" } }), p => p.Contains("SecretAccessKey"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket", SecretAccessKey = "s" } }), p => p.Contains("AccessKeyId"));
        Assert.Contains(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket", AccessKeyId = "id", SecretAccessKeyFile = "/nonexistent/secret" } }),
            p => p.Contains("does not exist"));
        Assert.Empty(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.S3, S3 = { Bucket = "ok-bucket" } }));
        Assert.Empty(ProblemsOf(new BlobOptions { Kind = BlobStoreKind.None }));

        var refused = Assert.Throws<OptionsValidationException>(() => StoreFor(("Blobs:Kind", "folder")));
        Assert.Contains("Blobs:Root", refused.Message);
    }
}
