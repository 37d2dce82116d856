using Microsoft.Playwright;

namespace Vireo.Api.Tests;

/// <summary>
/// The viewer page in headless Chromium (Debian's, through Playwright with no browser download): sign in, upload a
/// clip, follow it live until the timeline with its thumbnails and the routing of every frame's tiles, drawn over the
/// frame's picture, show. Screenshots are kept in the test results (VIREO_STATE/test-results/screenshots).
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ViewerPageTests(ApiCluster cluster)
{
    private const string Chromium = "/usr/bin/chromium";

    [Fact]
    public async Task AClipUploadedThroughThePageShowsItsTimelineAndRouting()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: ./vireo install adds Debian's chromium package");
        var shots = Path.Combine(Environment.GetEnvironmentVariable("VIREO_STATE") ?? AppContext.BaseDirectory, "test-results", "screenshots");
        Directory.CreateDirectory(shots);
        var key = (await cluster.CreateKeyAsync(ApiCluster.NewTenant())).Secret;

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 390, Height = 844 } });
        await page.GotoAsync(cluster.BaseAddress.ToString());

        // Sign in by keyboard alone.
        await page.Keyboard.PressAsync("Tab");
        await page.Keyboard.PressAsync("Tab");
        Assert.Equal("key", await page.EvaluateAsync<string>("document.activeElement.id"));
        await page.Keyboard.TypeAsync(key);
        await page.Keyboard.PressAsync("Enter");
        await page.Locator("#videos").WaitForAsync();

        // The first event stream ends after one event, as a proxy may cut one: the page opens it again from that event's id.
        var resumedFrom = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var cut = 0;
        await page.RouteAsync("**/v1/videos/*/events", async route =>
        {
            if (Interlocked.Exchange(ref cut, 1) == 0)
            {
                await route.FulfillAsync(new()
                {
                    Status = 200,
                    ContentType = "text/event-stream",
                    Body = "event: progress\nid: 0.-1\ndata: {\"state\":\"accepted\",\"progress\":0,\"framesDone\":0,\"framesExpected\":null}\n\n",
                });
                return;
            }
            if (route.Request.Headers.TryGetValue("last-event-id", out var id))
                resumedFrom.Enqueue(id);
            await route.ContinueAsync();
        });

        await page.SetInputFilesAsync("#file", cluster.Clip);
        // Four tiles at most: the 4:3 clip is cut into a 2×2 grid plus the whole-frame thumbnail.
        await page.FillAsync("#max-tiles", "4");
        await page.ClickAsync("#upload button[type=submit]");
        await page.WaitForURLAsync("**/#video/*", new() { Timeout = 30_000 });
        await page.Locator("#frames .tile").First.WaitForAsync(new() { Timeout = 180_000 });
        await page.Locator("#timeline li").First.WaitForAsync(new() { Timeout = 180_000 });
        // The overlay is drawn once the thumbnail, fetched with the key, has loaded.
        await page.Locator("#frames figure.drawn .overlay .cell").First.WaitForAsync(new() { Timeout = 60_000 });
        await page.WaitForFunctionAsync("(i => i && i.complete && i.naturalWidth > 0)(document.querySelector('#timeline img'))", null, new() { Timeout = 60_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "video-phone.png"), FullPage = true });

        Assert.Contains("completed", await page.TextContentAsync("#video-state") ?? "");
        Assert.Equal(["0.-1"], resumedFrom);
        var frames = await page.Locator("#frames > li").CountAsync();
        Assert.True(frames >= 2, $"{frames} frames shown");
        Assert.Equal(frames, await page.Locator("#frames > li:has(.tile)").CountAsync());
        var tile = await page.Locator("#frames .tile").First.GetAttributeAsync("title") ?? "";
        Assert.Matches(@"(compressed, 64|kept, 256) tokens, p=0\.\d\d", tile);
        // Over the first frame's picture (320 px wide, from a blob URL), one cell per grid tile, each colored by its route.
        var drawn = page.Locator("#frames figure.drawn").First;
        Assert.StartsWith("blob:", await drawn.Locator("img").GetAttributeAsync("src"));
        Assert.Equal(320, await drawn.Locator("img").EvaluateAsync<int>("i => i.naturalWidth"));
        Assert.Equal(5, await page.Locator("#frames > li").First.Locator(".tile").CountAsync());
        Assert.Equal(4, await drawn.Locator(".overlay .cell.compressed, .overlay .cell.kept").CountAsync());
        Assert.Equal(1, await drawn.Locator(".overlay .whole").CountAsync());
        Assert.Matches(@"2 by 2 tiles: \d of 5 tiles compressed$", await drawn.GetAttributeAsync("aria-label") ?? "");
        // Readable at phone width: nothing runs off the side.
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"));

        // A word of the first caption, searched, leads back to its frame.
        var caption = await page.Locator("#frames > li p").First.TextContentAsync() ?? "";
        var word = caption.Split(' ', StringSplitOptions.RemoveEmptyEntries).First(w => w.All(char.IsLetter));
        await page.SetViewportSizeAsync(1280, 900);
        await page.FillAsync("#q", word);
        await page.PressAsync("#q", "Enter");
        await page.Locator("#hits a").First.WaitForAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "search.png") });
        await page.Locator("#hits a").First.ClickAsync();
        await page.Locator("#frames li.target").WaitForAsync();
        await page.Locator("#frames li.target figure.drawn").WaitForAsync(new() { Timeout = 60_000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(shots, "video-desktop.png"), FullPage = true });
    }
}
