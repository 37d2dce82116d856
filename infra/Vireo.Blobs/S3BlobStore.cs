using System.Net;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Vireo.Blobs;

/// <summary>
/// Objects in a bucket of any S3-compatible store, under <see cref="S3BlobOptions.Prefix"/>. A PUT replaces an object
/// atomically by itself; a missing object reads as null; a prefix is deleted a listing page (1,000 keys) at a time.
/// </summary>
public sealed class S3BlobStore(IAmazonS3 client, string bucket, string prefix) : IBlobStore, IDisposable
{
    public bool Enabled => true;

    /// <summary>A client for <paramref name="options"/>, which must have passed validation.</summary>
    public static S3BlobStore Create(S3BlobOptions options)
    {
        var config = new AmazonS3Config
        {
            ForcePathStyle = options.ForcePathStyle,
            Timeout = TimeSpan.FromSeconds(options.TimeoutSeconds),
            // Stores other than AWS often lack the newer checksum headers; send and check them only where S3 requires them.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (string.IsNullOrEmpty(options.ServiceUrl))
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(options.Region);
        }
        else
        {
            config.ServiceURL = options.ServiceUrl;
            config.AuthenticationRegion = options.Region;
        }
        var client = string.IsNullOrEmpty(options.AccessKeyId)
            ? new AmazonS3Client(config)
            : new AmazonS3Client(new BasicAWSCredentials(options.AccessKeyId, SecretOf(options)), config);
        return new S3BlobStore(client, options.Bucket, options.Prefix);
    }

    private static string SecretOf(S3BlobOptions options) =>
        string.IsNullOrEmpty(options.SecretAccessKeyFile) ? options.SecretAccessKey! : File.ReadAllText(options.SecretAccessKeyFile).Trim();

    /// <summary>The bucket objects go to.</summary>
    public string Bucket => bucket;

    /// <summary>The full object key of a blob key.</summary>
    public string ObjectKey(string key)
    {
        BlobKeys.Check(key);
        return prefix + key;
    }

    public async Task PutAsync(string key, ReadOnlyMemory<byte> content, string contentType, CancellationToken cancellationToken = default)
    {
        using var body = new MemoryStream(content.ToArray(), writable: false);
        await client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = bucket,
            Key = ObjectKey(key),
            InputStream = body,
            ContentType = contentType,
            AutoCloseStream = false,
        }, cancellationToken);
    }

    public async Task<Blob?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        try
        {
            using var response = await client.GetObjectAsync(new GetObjectRequest { BucketName = bucket, Key = ObjectKey(key) }, cancellationToken);
            using var content = new MemoryStream();
            await response.ResponseStream.CopyToAsync(content, cancellationToken);
            return new Blob(content.ToArray(), response.ETag ?? FolderBlobStore.ETagOf(content.GetBuffer().AsSpan(0, (int)content.Length)));
        }
        catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    public async Task<int> DeletePrefixAsync(string prefixToDelete, CancellationToken cancellationToken = default)
    {
        BlobKeys.CheckPrefix(prefixToDelete);
        var deleted = 0;
        string? continuation = null;
        do
        {
            var page = await client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = bucket,
                Prefix = prefix + prefixToDelete,
                ContinuationToken = continuation,
            }, cancellationToken);
            var keys = page.S3Objects ?? [];
            if (keys.Count > 0)
            {
                await client.DeleteObjectsAsync(new DeleteObjectsRequest
                {
                    BucketName = bucket,
                    Objects = keys.Select(o => new KeyVersion { Key = o.Key }).ToList(),
                    Quiet = true,
                }, cancellationToken);
                deleted += keys.Count;
            }
            continuation = page.IsTruncated == true ? page.NextContinuationToken : null;
        }
        while (continuation is not null);
        return deleted;
    }

    public void Dispose() => client.Dispose();
}
