/**
 * The features playwright-core (1.65.1, `chromiumSwitches.ts`) disables with its own
 * `--disable-features` switch. Chromium keeps only the last `--disable-features` on its command
 * line, so a test that disables one more feature must repeat these; `chromium.test.ts` fails when
 * the installed playwright-core's list has an entry this one lacks.
 */
export const PLAYWRIGHT_DISABLED_FEATURES: readonly string[] = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];

/**
 * `args` for `chromium.launch` in the tests (the system's /usr/bin/chromium, headless). Headless
 * Chromium 156 preloads the address bar's popup (two `chrome://omnibox-popup.top-chrome/` WebUI
 * pages, in a renderer of their own) for every window, so for every `browser.newPage()`: about
 * 1.4 CPU-s each on this machine, for a popup a headless test never opens. Disabling the two
 * features takes a launch plus three pages from 7.5-7.8 to 3.1-3.2 CPU-s of Chromium; the pages
 * the tests load render the same.
 */
export const CHROMIUM_TEST_ARGS: readonly string[] = [
  '--no-sandbox',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, 'WebUIOmniboxPopup', 'WebUIOmniboxAimPopup'].join(',')}`,
];
