/** The recipes service: a recipe as mergekit YAML and back, in the engine (the page's main thread holds no YAML library). */
import { parseRecipe } from '../../recipe/parse.js';
import { recipeText } from '../../recipe/recipe-text.js';
import type { RecipesService } from '../engine-api.js';

export function createRecipesService(): RecipesService {
  return {
    async recipeText(recipe) {
      return recipeText(recipe);
    },
    async readRecipe(text, fileName) {
      return parseRecipe(text, fileName);
    },
  };
}
