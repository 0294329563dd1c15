// Every launch recipe, by the name its jobs carry in launch.recipe. A new recipe is its module (start,
// follow, finalize, resubmit) and one entry here; attach and resubmit find it by that name.
import type { JobRecord } from "../jobs/record.js";
import { batchRecipe } from "./generation-batch.js";
import { serveRecipe } from "./generation-serve.js";
import { PLAIN_RECIPE, type Recipe, type RecipeKind } from "./recipe.js";
import { trainRecipe } from "./training.js";

export const RECIPES: { readonly [K in RecipeKind]: Recipe<K> } = {
  serve: serveRecipe,
  batch: batchRecipe,
  train: trainRecipe,
};

export function recipeKind(record: JobRecord): RecipeKind | undefined {
  const name = (record.launch as { recipe?: unknown } | undefined)?.recipe;
  return typeof name === "string" && Object.hasOwn(RECIPES, name) ? (name as RecipeKind) : undefined;
}

/** The recipe that started the job; a record without one is a plain script. */
export function recipeFor(record: JobRecord): Omit<Recipe, "kind"> {
  const kind = recipeKind(record);
  return kind ? RECIPES[kind] : PLAIN_RECIPE;
}
