// Kept equal to package.json's version (a unit test checks); recorded in every manifest.
export const VERSION = "0.1.0";
